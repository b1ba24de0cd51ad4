// "Réinitialiser": asks first, replaces the code with the starter, and offers an undo.
import { byId } from "./dom.js";

/**
 * @param {{editor: import("./editor.js").CodeEditor, starter: string}} deps
 * @returns {{edited: () => void}} call on every edit: the undo offer ends with the next edit
 */
export function setUpReset({ editor, starter }) {
  let resetting = false;
  const dialog = byId("reset-dialog");
  const undoBar = byId("undo-bar");
  const undoButton = byId("undo-button");
  byId("reset-button").addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "confirm") return;
    dialog.returnValue = "";
    if (editor.code === starter) return;
    resetting = true;
    editor.replaceCode(starter);
    resetting = false;
    undoBar.hidden = false;
    undoButton.focus();
  });
  undoButton.addEventListener("click", () => {
    resetting = true;
    editor.undo();
    resetting = false;
    undoBar.hidden = true;
    editor.focus();
  });
  return {
    edited() {
      if (!resetting) undoBar.hidden = true;
    },
  };
}
