/**
 * The browser one-time import of the old product's local history (`legacy.importLocal`): what the
 * browser sends, checked the same way on both sides. Imports zod and nothing else from the app.
 */
import { z } from 'zod';
import { idSchema } from './schemas';

export const LEGACY_IMPORT = {
  /** Messages per call: a session with more is sent in several calls (each idempotent). */
  batchMax: 200,
  /** Old AI answers can be longer than what the composer allows today; they are kept whole. */
  contentMax: 100_000,
  idMax: 200,
} as const;

const storable = (s: string) => !s.includes('\u0000') && s.isWellFormed();

export const legacyLocalMessageSchema = z.object({
  id: z.string().trim().min(1, { error: 'Message id must not be empty' }).max(LEGACY_IMPORT.idMax),
  content: z
    .string()
    .max(LEGACY_IMPORT.contentMax, { error: `Message must be at most ${LEGACY_IMPORT.contentMax} characters` })
    .refine(storable, { error: 'must not contain NUL characters or broken Unicode' }),
  role: z.enum(['user', 'ai_pm']),
  createdAt: z.iso.datetime({ offset: true, error: 'createdAt must be an ISO-8601 time' }),
  isEdited: z.boolean().optional(),
});

export const legacyImportLocalInput = z.object({
  projectId: idSchema,
  /** The old appContext's session id and its project id (either may be missing in old data). */
  legacySessionId: z.string().trim().min(1).max(LEGACY_IMPORT.idMax),
  legacyProjectId: z.string().trim().max(LEGACY_IMPORT.idMax).optional(),
  title: z.string().trim().max(150).refine(storable).optional(),
  messages: z
    .array(legacyLocalMessageSchema)
    .min(1, { error: 'Nothing to import' })
    .max(LEGACY_IMPORT.batchMax, { error: `At most ${LEGACY_IMPORT.batchMax} messages per call` }),
});

export type LegacyImportLocalInput = z.infer<typeof legacyImportLocalInput>;
export type LegacyLocalMessage = z.infer<typeof legacyLocalMessageSchema>;

export interface LegacyImportLocalResult {
  sessionId: string;
  /** Stored now. */
  imported: number;
  /** Already in Parley (an earlier import from this or another browser, or the server-side migration). */
  alreadyPresent: number;
}
