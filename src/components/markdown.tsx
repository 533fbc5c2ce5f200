import { createContext, memo, useContext, useMemo } from 'react';
import ReactMarkdown, { type Components, type Options } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { AI_PM_MENTION, findMentions } from '~/shared/mentions';

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
  data?: { hName?: string; hProperties?: Record<string, unknown> };
}

/** Who can be mentioned where a message is shown: the project's members, and the viewer. */
export interface Mentionables {
  /** Lower-cased usernames of the project's members. */
  members: ReadonlySet<string>;
  /** The viewer's lower-cased username: their own mentions get the stronger highlight. */
  self: string;
}

/** Provided by the project's frame; without it (outside a project) mentions stay plain text. */
export const MentionContext = createContext<Mentionables | null>(null);

/**
 * `@name` of a member (or `@pm`, the AI PM) becomes `<span class="mention">`, `mention-me` when it
 * names the viewer. Only text nodes are looked at, so code stays verbatim (the server does not count
 * mentions in code either: src/shared/mentions.ts).
 */
function remarkMentions(options: Mentionables) {
  const split = (node: MdNode): MdNode[] => {
    const text = node.value ?? '';
    const out: MdNode[] = [];
    let at = 0;
    for (const m of findMentions(text)) {
      const name = m.name.toLowerCase();
      const pm = name === AI_PM_MENTION;
      if (!pm && !options.members.has(name)) continue;
      if (m.index > at) out.push({ type: 'text', value: text.slice(at, m.index) });
      const self = name === options.self;
      out.push({
        type: 'mention',
        data: {
          hName: 'span',
          hProperties: {
            className: ['mention', ...(self ? ['mention-me'] : []), ...(pm ? ['mention-ai'] : [])],
            title: self ? 'Mentions you' : pm ? 'Mentions the AI PM' : `Mentions ${m.name}`,
          },
        },
        children: [{ type: 'text', value: text.slice(m.index, m.index + m.length) }],
      });
      at = m.index + m.length;
    }
    if (at === 0) return [node];
    if (at < text.length) out.push({ type: 'text', value: text.slice(at) });
    return out;
  };
  const walk = (node: MdNode) => {
    if (!node.children) return;
    node.children = node.children.flatMap((child) => (child.type === 'text' ? split(child) : (walk(child), [child])));
  };
  return (tree: MdNode) => walk(tree);
}

/**
 * Raw HTML in a message is shown as the text the author typed: `<script>` or `<img onerror>` stay
 * characters on the screen and never become elements. (react-markdown builds React elements, never
 * innerHTML, and without rehype-raw it would silently drop HTML; this makes it visible instead.)
 */
function remarkHtmlAsText() {
  const walk = (node: MdNode) => {
    if (node.type === 'html') node.type = 'text';
    node.children?.forEach(walk);
  };
  return (tree: MdNode) => walk(tree);
}

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/**
 * Every URL in a message (links, autolinks, image sources) passes through here after markdown has
 * decoded entities and escapes, so `&#106;avascript:` is already `javascript:`. Only absolute
 * http(s) and mailto URLs survive, in the URL parser's normalized form (which also sees through tabs
 * and newlines inside a scheme); anything else - javascript:, data:, vbscript:, relative paths - is
 * dropped and the text stays as plain text.
 */
export function safeUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

const components: Components = {
  // Links leave the app in a new tab and tell the target nothing about it. A link whose URL was
  // refused has no href left: it is shown as its text.
  a: ({ node: _node, href, children }) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ) : (
      <span>{children}</span>
    ),
  // No remote images inside messages (they would track readers and load from any host); show a link
  // to the image instead, or just its alt text when the URL was refused.
  img: ({ src, alt }) =>
    typeof src === 'string' && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt || src}
      </a>
    ) : (
      <>{alt}</>
    ),
};

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const mentionables = useContext(MentionContext);
  const plugins = useMemo<NonNullable<Options['remarkPlugins']>>(
    () => [remarkGfm, remarkHtmlAsText, ...(mentionables ? [[remarkMentions, mentionables] as [typeof remarkMentions, Mentionables]] : [])],
    [mentionables],
  );
  return (
    <ReactMarkdown remarkPlugins={plugins} components={components} urlTransform={safeUrl}>
      {text}
    </ReactMarkdown>
  );
});
