'use client';
import { useInfiniteQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '~/client/errors';
import { useTRPC } from '~/client/trpc';
import { SEARCH_LIMITS, type SearchHitDTO, type SearchPageDTO } from '~/shared/search';
import { When } from './when';

/**
 * "Search messages" in the project shell: results with highlighted snippets; a result opens its
 * session at that message (`?at=<seq>`, see FocusedLog). Snippets are parts rendered as text, never
 * HTML, so a message cannot inject markup here.
 */
export function SearchPanel({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const [draft, setDraft] = useState('');
  const [query, setQuery] = useState<string | null>(null);
  const results = useInfiniteQuery(
    trpc.message.search.infiniteQueryOptions(
      { projectId, query: query ?? '' },
      {
        enabled: query !== null,
        getNextPageParam: (last: SearchPageDTO) => last.nextCursor,
        initialCursor: null,
        staleTime: 30_000,
        // A refused query (BAD_REQUEST) stays refused, and a failed search is one Enter away from a
        // retry by the user: say why at once instead of retrying behind a "Searching…".
        retry: false,
      },
    ),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    const q = draft.trim();
    setQuery(q.length > 0 ? q : null);
  }

  const pages = results.data?.pages ?? [];
  const hits = pages.flatMap((p) => p.items);
  const notice = pages.at(-1)?.notice ?? null;

  return (
    <section className="panel search" aria-label="Search">
      <form role="search" onSubmit={submit} className="search-form">
        <input
          type="search"
          aria-label="Search messages"
          placeholder="Search messages"
          value={draft}
          maxLength={SEARCH_LIMITS.queryMax}
          onChange={(e) => {
            setDraft(e.target.value);
            if (e.target.value === '') setQuery(null);
          }}
        />
      </form>
      {query !== null && (
        <div className="search-results">
          {results.isPending && <p className="muted small">Searching…</p>}
          {results.isError && (
            <p role="alert" className="small error-text">
              {errorMessage(results.error)}
            </p>
          )}
          {results.isSuccess && hits.length === 0 && !results.hasNextPage && <p className="muted small">No messages found.</p>}
          {hits.length > 0 && (
            <ul aria-label="Search results" className="search-hits">
              {hits.map((hit) => (
                <SearchHit key={`${hit.sessionId}/${hit.seq}`} hit={hit} />
              ))}
            </ul>
          )}
          {notice && <p className="muted small search-notice">{notice}</p>}
          {results.hasNextPage && (
            <button
              type="button"
              className="button subtle small"
              disabled={results.isFetchingNextPage}
              onClick={() => void results.fetchNextPage({ cancelRefetch: false })}
            >
              {results.isFetchingNextPage ? 'Searching…' : notice ? 'Search further' : 'More results'}
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function SearchHit({ hit }: { hit: SearchHitDTO }) {
  return (
    <li className="search-hit">
      <Link href={`/p/${hit.projectId}/s/${hit.sessionId}?at=${hit.seq}`} className="stretched">
        <span className="search-hit-head">
          <span className="search-hit-session">{hit.sessionTitle || 'Session'}</span> · {hit.authorName} ·{' '}
          <When iso={hit.createdAt} />
        </span>
        <span className="search-hit-snippet">
          {hit.snippet.map((part, i) => (part.hit ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
        </span>
      </Link>
    </li>
  );
}
