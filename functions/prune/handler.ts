import { createOperationHandler } from '../middleware/operation-handler';

/** Lambda entry of `prune`: see createOperationHandler for the middleware chain. */
export const handler = createOperationHandler('prune');
