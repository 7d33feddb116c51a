import { describe, expect, it } from 'vitest';
import { contrastRatio, renderPage, textColorOn } from '../../src/http/page.js';

describe('the page shell', () => {
  it('measures contrast as WCAG does', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#fff', '#fff')).toBeCloseTo(1, 5);
    // The default accent and the small print's grey pass 4.5:1 on white.
    expect(contrastRatio('#0a6ed1', '#ffffff')).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio('#555555', '#ffffff')).toBeGreaterThanOrEqual(4.5);
  });

  it("keeps a zone's light brand colour readable: dark button text, links in a darker blue", () => {
    expect(textColorOn('#ffeb3b')).toBe('#000000');
    expect(textColorOn('#0a6ed1')).toBe('#ffffff');
    const html = renderPage({ title: 't', heading: 'h', body: '', accent: '#ffeb3b' });
    expect(html).toContain('color:#000000;background:#ffeb3b');
    expect(html).toContain('a{color:#0854a0}');
  });

  it('refuses anything but a hex colour as the accent, and escapes the heading', () => {
    const html = renderPage({ title: '<t>', heading: '<h>', body: '', accent: 'red;}</style><script>' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;h&#62;');
    expect(html).toContain('<html lang="en">');
  });
});
