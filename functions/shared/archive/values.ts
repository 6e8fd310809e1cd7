/** How a checksum is written in the ledger: the method, then the sum of the rows' shares. */
export function checksumText(sum: bigint | string): string {
  return `md5-60-sum:${sum}`;
}

/** How a stored-rows checksum (export-sql.ts, storedRowsCheckSql) is written: another method, never equal to a checksumText. */
export function storedChecksumText(sum: bigint | string): string {
  return `record-md5-60-sum:${sum}`;
}
