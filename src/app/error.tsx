'use client';
import { useEffect } from 'react';

/** Unexpected failures (e.g. the store is unreachable while the page renders). */
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <main className="center-page">
      <div className="card narrow">
        <h1>Something went wrong</h1>
        <p className="muted">Parley could not load this page. It may be a passing problem.</p>
        <p>
          <button type="button" className="button primary" onClick={reset}>
            Try again
          </button>
        </p>
      </div>
    </main>
  );
}
