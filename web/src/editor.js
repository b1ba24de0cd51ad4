// The CodeMirror 6 editor, mounted in a shadow root so its runtime styles need no inline <style>
// (a strict CSP `style-src 'self'` holds: constructed style sheets are not inline styles).
import { EditorState, StateEffect, StateField, Prec } from "@codemirror/state";
import {
  Decoration,
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab, isolateHistory, undo } from "@codemirror/commands";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { editorTheme, highlightStyle } from "./editor-theme.js";

const setErrorLine = StateEffect.define();
const errorLineMark = Decoration.line({ class: "cm-error-line" });

/** Highlights the line an explanation points at, until the code changes. */
const errorLineField = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    if (tr.docChanged) marks = Decoration.none;
    for (const effect of tr.effects) {
      if (effect.is(setErrorLine)) {
        const line = effect.value;
        marks =
          line && line >= 1 && line <= tr.state.doc.lines
            ? Decoration.set([errorLineMark.range(tr.state.doc.line(line).from)])
            : Decoration.none;
      }
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** The language mode, loaded on demand so a Python page never downloads the JavaScript parser. */
export async function loadLanguage(language) {
  if (language === "python") {
    const { python } = await import("@codemirror/lang-python");
    return [python(), indentUnit.of("    ")];
  }
  const { javascript } = await import("@codemirror/lang-javascript");
  return [javascript(), indentUnit.of("  ")];
}

export class CodeEditor {
  /**
   * @param {HTMLElement} host element that receives the shadow root
   * @param {{code: string, language: Extension, label: string, onChange: Function, onRun: Function, onCheck: Function}} options
   *   ``language`` comes from ``loadLanguage``.
   */
  constructor(host, { code, language, label, onChange, onRun, onCheck }) {
    this.host = host;
    const root = host.shadowRoot || host.attachShadow({ mode: "open" });
    const shortcuts = Prec.highest(
      keymap.of([
        // Ctrl+Enter everywhere (as the help says), and Cmd+Enter on macOS.
        { key: "Ctrl-Enter", mac: "Mod-Enter", run: () => (onRun(), true) },
        { key: "Ctrl-Shift-Enter", mac: "Mod-Shift-Enter", run: () => (onCheck(), true) },
        { mac: "Ctrl-Enter", run: () => (onRun(), true) },
      ]),
    );
    // tabindex: the editable text is in the tab order anyway; said so, a checker sees the scrolled
    // editor (long lines on a phone) as reachable by keyboard.
    const contentAttributes = { "aria-label": label, spellcheck: "false", autocapitalize: "off", autocorrect: "off", tabindex: "0" };
    this.view = new EditorView({
      root,
      parent: root,
      state: EditorState.create({
        doc: code,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          syntaxHighlighting(highlightStyle),
          shortcuts,
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          language,
          errorLineField,
          editorTheme,
          EditorView.contentAttributes.of(contentAttributes),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
  }

  get code() {
    return this.view.state.doc.toString();
  }

  /** Replaces the whole text as one undoable change. */
  replaceCode(code) {
    const { view } = this;
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: code },
      userEvent: "input.replace",
      annotations: isolateHistory.of("full"),
      scrollIntoView: true,
    });
  }

  undo() {
    return undo(this.view);
  }

  /** Marks ``line`` (1-based; null clears) and optionally moves the cursor there. */
  markLine(line, { focus = false } = {}) {
    const { view } = this;
    const effects = [setErrorLine.of(line)];
    const valid = line && line >= 1 && line <= view.state.doc.lines;
    if (valid) effects.push(EditorView.scrollIntoView(view.state.doc.line(line).from, { y: "center" }));
    view.dispatch({
      effects,
      selection: valid && focus ? { anchor: view.state.doc.line(line).from } : undefined,
    });
    if (focus) view.focus();
  }

  focus() {
    this.view.focus();
  }
}
