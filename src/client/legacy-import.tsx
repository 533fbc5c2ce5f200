'use client';
/**
 * The browser one-time import of the old product's chat history. This is the ONLY code that touches
 * localStorage (Parley keeps nothing of the chat in the browser), and it only reads and deletes the
 * old appContext's keys: `currentChatSession` and `chat_messages_<sessionId>`.
 *
 * When a browser still has them, the project page offers "Import N messages from this browser"; the
 * messages go to `legacy.importLocal` (idempotent: same ids), and a session's key is removed only once
 * the server acknowledged every one of its messages. A message that cannot be read stays where it is,
 * and so does its key: nothing is lost because it could not be imported.
 */
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { errorMessage } from '~/client/errors';
import { useTRPC } from '~/client/trpc';
import { LEGACY_IMPORT, legacyLocalMessageSchema, type LegacyLocalMessage } from '~/shared/legacy';

const CURRENT_SESSION_KEY = 'currentChatSession';
const MESSAGES_KEY_PREFIX = 'chat_messages_';

interface LegacyLocalSession {
  /** The localStorage key holding its messages. */
  key: string;
  legacySessionId: string;
  legacyProjectId: string | undefined;
  title: string | undefined;
  messages: LegacyLocalMessage[];
  /** Entries that are not readable messages: they keep the key in place. */
  unreadable: number;
}

function parse(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : typeof v === 'number' ? String(v) : undefined);

/** One old appContext message (camelCase, `type` user/ai, dates as JSON strings) in the import's shape. */
function toLocalMessage(raw: unknown): LegacyLocalMessage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  const kind = (str(m.role) ?? str(m.type) ?? 'user').toLowerCase();
  const created = str(m.createdAt) ?? str(m.created_at) ?? str(m.timestamp);
  const parsed = legacyLocalMessageSchema.safeParse({
    id: str(m.id),
    content: m.content,
    role: kind === 'user' ? 'user' : 'ai_pm',
    createdAt: created && !Number.isNaN(Date.parse(created)) ? new Date(created).toISOString() : created,
    isEdited: m.isEdited === true,
  });
  return parsed.success ? parsed.data : null;
}

/** Reads the old keys (and nothing else) into sessions to import. */
export function readLegacyLocalHistory(storage: Storage): LegacyLocalSession[] {
  const current = parse(storage.getItem(CURRENT_SESSION_KEY)) as Record<string, unknown> | null;
  const sessions: LegacyLocalSession[] = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (!key?.startsWith(MESSAGES_KEY_PREFIX) || key.length === MESSAGES_KEY_PREFIX.length) continue;
    const legacySessionId = key.slice(MESSAGES_KEY_PREFIX.length);
    const list = parse(storage.getItem(key));
    const raw = Array.isArray(list) ? (list as unknown[]) : [];
    const messages = raw.map(toLocalMessage).filter((m): m is LegacyLocalMessage => m !== null);
    const isCurrent = current !== null && str(current.id) === legacySessionId;
    const first = raw[0] as Record<string, unknown> | undefined;
    sessions.push({
      key,
      legacySessionId,
      legacyProjectId: (isCurrent ? (str(current.projectId) ?? str(current.project_id)) : undefined) ?? str(first?.projectId),
      title: isCurrent ? (str(current.title) ?? str(current.name)) : undefined,
      messages,
      unreadable: Array.isArray(list) ? raw.length - messages.length : 1,
    });
  }
  return sessions;
}

export function LegacyImportOffer({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [sessions, setSessions] = useState<LegacyLocalSession[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const importLocal = useMutation(trpc.legacy.importLocal.mutationOptions());
  const [busy, setBusy] = useState(false);

  // localStorage exists only in the browser, after hydration.
  useEffect(() => {
    setSessions(readLegacyLocalHistory(window.localStorage).filter((s) => s.messages.length > 0));
  }, []);

  const count = sessions.reduce((n, s) => n + s.messages.length, 0);
  if (count === 0 && !done && !error) return null;

  async function run() {
    setBusy(true);
    setError(null);
    let imported = 0;
    let present = 0;
    let kept = 0;
    let firstSession: string | null = null;
    try {
      for (const s of sessions) {
        for (let i = 0; i < s.messages.length; i += LEGACY_IMPORT.batchMax) {
          const result = await importLocal.mutateAsync({
            projectId,
            legacySessionId: s.legacySessionId,
            legacyProjectId: s.legacyProjectId,
            title: s.title?.slice(0, 150),
            messages: s.messages.slice(i, i + LEGACY_IMPORT.batchMax),
          });
          imported += result.imported;
          present += result.alreadyPresent;
          firstSession ??= result.sessionId;
        }
        // Every message of this session is acknowledged: only now may the browser forget them.
        if (s.unreadable === 0) {
          window.localStorage.removeItem(s.key);
          const current = parse(window.localStorage.getItem(CURRENT_SESSION_KEY)) as Record<string, unknown> | null;
          if (current && str(current.id) === s.legacySessionId) window.localStorage.removeItem(CURRENT_SESSION_KEY);
        } else {
          kept += s.unreadable;
        }
      }
      setSessions([]);
      setDone(
        `Imported ${imported} messages from this browser` +
          (present > 0 ? ` (${present} were already in Parley)` : '') +
          (kept > 0 ? `; ${kept} could not be read and were left in this browser.` : '.'),
      );
      if (firstSession) router.push(`/p/${projectId}/s/${firstSession}`);
    } catch (err) {
      setError(`${errorMessage(err)} Nothing was removed from this browser; try again.`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="legacy-import" aria-label="Import from this browser">
      {count > 0 && (
        <>
          <p>This browser still holds {count} chat messages from the old app.</p>
          <button type="button" className="button small" onClick={() => void run()} disabled={busy}>
            Import {count} messages from this browser
          </button>
        </>
      )}
      {done && (
        <p role="status" aria-label="Import">
          {done}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
