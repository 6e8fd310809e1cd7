/** How a checksum is written in the ledger: the method, then the sum of the rows' shares. */
export function checksumText(sum: bigint | string): string {
  return `md5-60-sum:${sum}`;
}
