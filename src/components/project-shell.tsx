'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useMemo, useState, type ReactNode } from 'react';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { LegacyImportOffer } from '~/client/legacy-import';
import { useTRPC } from '~/client/trpc';
import type { Viewer } from '~/shared/types';
import { ConnectionStatus } from './connection-status';
import { MentionContext, type Mentionables } from './markdown';
import { MembersPanel } from './members-panel';
import { SearchPanel } from './search-panel';
import { SessionsNav } from './sessions-nav';
import { SignOutButton } from './sign-out-button';

/**
 * The project's frame: sidebar (project, connection, sessions, members) beside the page. On narrow
 * screens the sidebar shrinks to a header whose "Menu" button opens the sessions and members.
 */
export function ProjectShell({
  projectId,
  viewer,
  children,
}: {
  projectId: string;
  viewer: Viewer;
  children: ReactNode;
}) {
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const pathname = usePathname();
  // The menu closes by itself on navigation: it is open only for the page it was opened on.
  const [menuOpenAt, setMenuOpenAt] = useState<string | null>(null);
  const menuOpen = menuOpenAt === pathname;
  const members = project.data?.members;
  const mentionables = useMemo<Mentionables>(
    () => ({ members: new Set(members?.map((m) => m.username.toLowerCase())), self: viewer.username.toLowerCase() }),
    [members, viewer.username],
  );

  return (
    <MentionContext value={mentionables}>
      <div className="shell">
        <aside className={`sidebar${menuOpen ? ' menu-open' : ''}`} aria-label="Project">
          <div className="sidebar-head">
            <Link href="/" className="back-link">
              ← All projects
            </Link>
            <div className="project-title-row">
              <Link href={`/p/${projectId}`} className="project-title">
                {project.data?.name ?? 'Project'}
              </Link>
              <ConnectionStatus projectId={projectId} />
              <button
                type="button"
                className="button subtle small menu-button"
                aria-expanded={menuOpen}
                aria-controls="sidebar-panels"
                onClick={() => setMenuOpenAt(menuOpen ? null : pathname)}
              >
                Menu
              </button>
            </div>
          </div>
          <div id="sidebar-panels" className="sidebar-panels">
            <SearchPanel projectId={projectId} />
            <SessionsNav projectId={projectId} />
            <MembersPanel projectId={projectId} viewer={viewer} />
            <div className="sidebar-foot">
              <span className="muted small">Signed in as {viewer.username}</span>
              <SignOutButton />
            </div>
          </div>
        </aside>
        <div className="shell-main">
          <LegacyImportOffer projectId={projectId} />
          {children}
        </div>
      </div>
    </MentionContext>
  );
}
