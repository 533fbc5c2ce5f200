import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown, MentionContext, safeUrl } from './markdown';

const render = (text: string) => renderToStaticMarkup(createElement(Markdown, { text }));

/** Every href/src in the output. */
const urls = (html: string) => [...html.matchAll(/\s(?:href|src)="([^"]*)"/g)].map((m) => m[1]!);

describe('Markdown: what a message can put on the page', () => {
  it('renders http(s) and mailto links that leave in a new tab, telling the target nothing', () => {
    const html = render('[docs](https://example.com/a?b=1) and [mail](mailto:ada@example.com) and https://auto.example');
    expect(urls(html)).toEqual(['https://example.com/a?b=1', 'mailto:ada@example.com', 'https://auto.example/']);
    expect(html.match(/rel="noopener noreferrer nofollow"/g)).toHaveLength(3);
    expect(html.match(/target="_blank"/g)).toHaveLength(3);
  });

  it.each([
    '[x](javascript:alert(1))',
    '[x](JAVASCRIPT:alert(1))',
    '[x]( javascript:alert(1))',
    '[x](java\tscript:alert(1))',
    '[x](&#106;avascript:alert(1))',
    '[x](&#x6A;&#x61;vascript&colon;alert(1))',
    '[x](javascript&#58;alert(1))',
    '[x](%6Aavascript:alert(1))',
    '[x](vbscript:msgbox(1))',
    '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[x](data:image/svg+xml,<svg onload=alert(1)>)',
    '[x](file:///etc/passwd)',
    '[x](//evil.example/)',
    '[x](/relative/path)',
    '<javascript:alert(1)>',
    '[x][r]\n\n[r]: javascript:alert(1)',
  ])('drops the link of %j and keeps its text', (text) => {
    const html = render(text);
    expect(urls(html)).toEqual([]);
    expect(html).not.toMatch(/<a[\s>]/);
    expect(html).not.toMatch(/href=|src=/);
  });

  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<svg onload=alert(1)><circle/></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    'text <b onclick="alert(1)">bold</b>',
  ])('shows raw HTML %j as text, never as elements', (text) => {
    const html = render(text);
    expect(html).not.toMatch(/<(script|img|svg|iframe|div|b|a)[\s>]/i);
    expect(html).toContain('&lt;');
    expect(urls(html)).toEqual([]);
  });

  it('never loads an image: image syntax becomes a link to it, or its alt text', () => {
    const remote = render('![cat](https://tracker.example/pixel.png)');
    expect(remote).not.toMatch(/<img/);
    expect(urls(remote)).toEqual(['https://tracker.example/pixel.png']);
    expect(remote).toContain('>cat</a>');

    for (const bad of ['![cat](javascript:alert(1))', '![cat](data:image/svg+xml;base64,PHN2Zz4=)', '![cat](/local.png)']) {
      const html = render(bad);
      expect(html).not.toMatch(/<(img|a)[\s>]/);
      expect(html).toContain('cat');
    }
  });

  it('safeUrl keeps only absolute http, https and mailto URLs', () => {
    expect(safeUrl('https://example.com')).toBe('https://example.com/');
    expect(safeUrl('http://example.com/x')).toBe('http://example.com/x');
    expect(safeUrl('mailto:a@b.example')).toBe('mailto:a@b.example');
    for (const bad of ['javascript:alert(1)', 'java\nscript:alert(1)', ' data:text/html,x', 'ftp://x.example', '/p/1', '#x', '']) {
      expect(safeUrl(bad)).toBeNull();
    }
  });

  describe('mentions', () => {
    const inProject = (text: string) =>
      renderToStaticMarkup(
        createElement(MentionContext, { value: { members: new Set(['ada', 'bob']), self: 'bob' } }, createElement(Markdown, { text })),
      );

    it('highlights members, the viewer more strongly, and @pm; strangers and code stay text', () => {
      const html = inProject('hi @Ada and @bob, ask @pm; @zed is no member; `@ada` is code');
      expect(html).toContain('<span class="mention" title="Mentions Ada">@Ada</span>');
      expect(html).toContain('<span class="mention mention-me" title="Mentions you">@bob</span>');
      expect(html).toContain('<span class="mention mention-ai" title="Mentions the AI PM">@pm</span>');
      expect(html).toContain('@zed is no member');
      expect(html).toContain('<code>@ada</code>');
      expect(html.match(/class="mention/g)).toHaveLength(3);
    });

    it('outside a project nothing is highlighted', () => {
      expect(render('hi @ada')).not.toContain('mention');
    });
  });
});
