// Small, safe text helpers: `code` spans in plain strings, and fitting the server's HTML headings.
import { h } from "./dom.js";

/** "Use `print`" → ["Use ", <code>print</code>]: text nodes only, no HTML parsing. */
export function withInlineCode(text) {
  return String(text)
    .split(/(`[^`\n]+`)/)
    .filter(Boolean)
    .map((part) => (part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", {}, part.slice(1, -1)) : part));
}

/**
 * The instructions come with their own h1/h2: drop an h1 that repeats the page title and shift
 * the rest so the highest becomes ``topLevel`` (under the panel's h2): one h1, no skipped level.
 */
export function fitHeadings(container, pageTitle, topLevel = 3) {
  const first = container.firstElementChild;
  if (first && first.tagName === "H1" && first.textContent.trim() === pageTitle.trim()) first.remove();
  const headings = [...container.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  const highest = Math.min(...headings.map((heading) => Number(heading.tagName[1])));
  for (const heading of headings) {
    const level = Math.min(6, Number(heading.tagName[1]) - highest + topLevel);
    const replacement = document.createElement(`h${level}`);
    replacement.append(...heading.childNodes);
    replacement.className = "prose-heading";
    heading.replaceWith(replacement);
  }
}
