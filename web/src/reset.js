// "Réinitialiser": asks first, replaces the code with the starter, and offers an undo.
import { byId } from "./dom.js";

/** @param {{editor: import("./editor.js").CodeEditor, starter: string}} deps */
export function setUpReset({ editor, starter }) {
  const dialog = byId("reset-dialog");
  const undoBar = byId("undo-bar");
  const undoButton = byId("undo-button");
  byId("reset-button").addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "confirm") return;
    dialog.returnValue = "";
    if (editor.code === starter) return;
    editor.replaceCode(starter);
    undoBar.hidden = false;
    undoButton.focus();
  });
  undoButton.addEventListener("click", () => {
    editor.undo();
    undoBar.hidden = true;
    editor.focus();
  });
}
