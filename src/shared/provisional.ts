import type { MessageDTO } from './types';

/**
 * A message the durable tier kept in PostgreSQL while Redis was down carries `metadata.provisional:
 * true` in the answers it gets then (the send's answer, pages read from PostgreSQL): its seq is only
 * provisional until the message is replayed into Redis, which gives it its final seq. Tabs show it as
 * still being sent, and a provisional copy never replaces a stored (final) one.
 */
export const PROVISIONAL = 'provisional';

export function isProvisional(message: Pick<MessageDTO, 'metadata'>): boolean {
  return message.metadata[PROVISIONAL] === true;
}
