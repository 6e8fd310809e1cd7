import { createOperationHandler } from '../middleware/operation-handler';

/** Lambda entry of `stats`: see createOperationHandler for the middleware chain. */
export const handler = createOperationHandler('stats');
