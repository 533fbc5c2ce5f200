import Link from 'next/link';
import { connection } from 'next/server';

export const metadata = { title: 'Not found' };

/** What a missing project, a missing session and a project you are not a member of all look like. */
export default async function NotFound() {
  // Rendered per request, never prerendered: a static page would carry scripts without this
  // response's CSP nonce, and the browser would refuse them (src/proxy.ts).
  await connection();
  return (
    <main className="center-page">
      <div className="card narrow">
        <h1>Not found</h1>
        <p className="muted">There is nothing here, or it is not shared with you.</p>
        <p>
          <Link href="/">Back to your projects</Link>
        </p>
      </div>
    </main>
  );
}
