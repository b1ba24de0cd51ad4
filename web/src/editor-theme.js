// Editor look: calm colours from the page's CSS custom properties (they inherit into the shadow root).
import { EditorView } from "@codemirror/view";
import { HighlightStyle } from "@codemirror/language";
import { tags } from "@lezer/highlight";

export const editorTheme = EditorView.theme({
  "&": {
    color: "var(--ink)",
    backgroundColor: "var(--editor-bg)",
    fontSize: "1rem",
    border: "1px solid var(--line-strong)",
    borderRadius: "var(--radius)",
    minHeight: "12rem",
  },
  "&.cm-focused": {
    outline: "3px solid var(--focus)",
    outlineOffset: "2px",
  },
  ".cm-scroller": {
    fontFamily: "var(--mono)",
    lineHeight: "1.55",
    minHeight: "12rem",
    maxHeight: "32rem",
    overflow: "auto",
  },
  ".cm-content": { padding: "0.5rem 0", caretColor: "var(--ink)" },
  ".cm-gutters": {
    backgroundColor: "var(--editor-gutter)",
    color: "var(--ink-muted)",
    borderRight: "1px solid var(--line)",
    borderRadius: "var(--radius) 0 0 var(--radius)",
  },
  ".cm-activeLine": { backgroundColor: "var(--editor-active)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--editor-active)", color: "var(--ink)" },
  ".cm-cursor, .cm-dropCursor": { borderLeft: "2px solid var(--ink)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--editor-selection) !important",
  },
  ".cm-error-line": {
    backgroundColor: "var(--error-line-bg)",
    boxShadow: "inset 4px 0 0 var(--danger)",
  },
  ".cm-matchingBracket": { backgroundColor: "var(--editor-match)", outline: "1px solid var(--line-strong)" },
});

// Colours chosen for at least 4.5:1 contrast on the light editor background.
export const highlightStyle = HighlightStyle.define([
  { tag: tags.keyword, color: "#7a1f8f", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "#1d6b34" },
  { tag: [tags.number, tags.bool, tags.null], color: "#8a4b00" },
  { tag: tags.comment, color: "#5b6470", fontStyle: "italic" },
  { tag: [tags.function(tags.variableName), tags.function(tags.propertyName)], color: "#1b4f9c" },
  { tag: [tags.definition(tags.variableName), tags.className], color: "#0b5563" },
  { tag: tags.operator, color: "#3d4451" },
  { tag: tags.invalid, color: "#b00020", textDecoration: "underline wavy" },
]);
