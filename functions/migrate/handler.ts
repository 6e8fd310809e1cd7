import { createOperationHandler } from '../middleware/operation-handler';

/** Lambda entry of `migrate`: see createOperationHandler for the middleware chain. */
export const handler = createOperationHandler('migrate');
