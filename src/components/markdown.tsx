import { memo } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
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
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm, remarkHtmlAsText]} components={components} urlTransform={safeUrl}>
      {text}
    </ReactMarkdown>
  );
});
