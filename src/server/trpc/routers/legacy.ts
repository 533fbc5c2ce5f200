import 'server-only';
import { ChatImport } from '~/server/chat/import';
import { env } from '~/server/env';
import { isUuid, parleyIdFor, uuidV5 } from '~/server/legacy/ids';
import { AI_PM_AUTHOR } from '~/server/legacy/migrate';
import { keys } from '~/server/redis/keys';
import { legacyImportLocalInput, type LegacyImportLocalResult } from '~/shared/legacy';
import { projectProcedure, router } from '../init';

/**
 * The browser one-time import: a signed-in member sends the old product's local history of one
 * session; it lands in the matching session (the one the server-side migration made of the same
 * legacy session, when this is that project) or in an "Imported" session of its own, with the same
 * message ids, so repeating the call (or importing the same messages from two browsers, or after the
 * server-side migration) stores nothing twice. Imported messages are history: no AI replies.
 */
export const legacyRouter = router({
  importLocal: projectProcedure.input(legacyImportLocalInput).mutation(async ({ ctx, input }): Promise<LegacyImportLocalResult> => {
    const legacyProject = input.legacyProjectId ?? '';
    const matchesMigration = legacyProject !== '' && parleyIdFor('project', legacyProject) === input.projectId;
    // Session ids are unique across projects in PostgreSQL, so a session imported into another project
    // than the migration's gets an id of its own (still the same on every repeat).
    const sessionId = matchesMigration
      ? parleyIdFor('session', input.legacySessionId, legacyProject)
      : isUuid(input.legacySessionId) && (await ctx.redis.exists(keys.session(input.projectId, input.legacySessionId.toLowerCase()))) === 1
        ? input.legacySessionId.toLowerCase()
        : uuidV5(`browser-session:${input.projectId}:${legacyProject}:${input.legacySessionId}`);
    const importer = new ChatImport(ctx.redis, {
      eventLogMaxLen: env.EVENT_LOG_MAXLEN,
      outbox: ctx.durable !== null,
    });
    const first = input.messages.reduce((min, m) => (m.createdAt < min ? m.createdAt : min), input.messages[0]!.createdAt);
    await importer.ensureSession({
      projectId: input.projectId,
      id: sessionId,
      title: input.title ? `Imported: ${input.title}` : 'Imported',
      createdAt: new Date(first).toISOString(),
      createdBy: ctx.user.id,
      metadata: { importedFrom: 'legacy-browser', legacyId: input.legacySessionId },
    });
    // Old order: by time, then the order the browser kept them in.
    const ordered = input.messages
      .map((m, i) => ({ m, i, t: Date.parse(m.createdAt) }))
      .sort((a, b) => a.t - b.t || a.i - b.i);
    const outcomes = await importer.importMessages(
      ordered.map(({ m }) => {
        const id = parleyIdFor('message', m.id, legacyProject);
        return {
          projectId: input.projectId,
          sessionId,
          id,
          content: m.content,
          role: m.role,
          author: m.role === 'ai_pm' ? AI_PM_AUTHOR : ctx.user,
          createdAt: new Date(m.createdAt).toISOString(),
          isEdited: m.isEdited,
          metadata: { importedFrom: 'legacy-browser', ...(id !== m.id ? { legacyId: m.id } : {}) },
        };
      }),
    );
    // `conflict`: the id is already a message of another session of this project (e.g. the migration
    // put it there): it is in Parley, which is all the browser needs to know before it forgets it.
    const imported = outcomes.filter((o) => o.outcome === 'created').length;
    return { sessionId, imported, alreadyPresent: outcomes.length - imported };
  }),
});
