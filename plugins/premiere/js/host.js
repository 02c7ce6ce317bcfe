/*
 * Premiere Pro host calls (UXP `premierepro` module, Premiere 25.1+). This is
 * the only file that touches the host; panel.js talks to it through
 * globalThis.veditHost:
 *   getSelectedClip() -> {name, path, inSeconds, outSeconds, fps, startSeconds, trackIndex}
 *   importAndPlace(path, clip) -> {trackIndex}
 *   readToken() -> token text from $VEDIT_HOME/token (default ~/.config/vedit/token)
 * Tests replace this file with a stand-in that implements the same three calls.
 */
(function () {
  "use strict";

  function ppro() { return require("premierepro"); }

  async function activeSequence() {
    const project = await ppro().Project.getActiveProject();
    if (!project) throw new Error("no project is open");
    const sequence = await project.getActiveSequence();
    if (!sequence) throw new Error("no sequence is open");
    return { project, sequence };
  }

  async function getSelectedClip() {
    const { sequence } = await activeSequence();
    const selection = await sequence.getSelection();
    const items = (await selection.getTrackItems()) || [];
    let item = null;
    for (const it of items) {
      // video clip track items (VideoClipTrackItem) have video-transition actions; audio items do not
      if (typeof it.createAddVideoTransitionAction === "function") { item = it; break; }
    }
    if (!item) throw new Error("select one video clip in the timeline");
    const projectItem = await item.getProjectItem();
    const clipItem = ppro().ClipProjectItem.cast(projectItem);
    const path = await clipItem.getMediaFilePath();
    if (!path) throw new Error("the selected clip has no media file");
    const interp = await clipItem.getFootageInterpretation();
    const seqRate = await sequence.getTimebase?.();
    const fps = (interp && interp.getFrameRate && interp.getFrameRate()) || (seqRate ? 254016000000 / Number(seqRate) : 25);
    const inPoint = await item.getInPoint();
    const outPoint = await item.getOutPoint();
    const start = await item.getStartTime();
    return {
      name: await item.getName(),
      path: path,
      inSeconds: inPoint.seconds,
      outSeconds: outPoint.seconds,
      fps: Number(fps),
      startSeconds: start.seconds,
      trackIndex: await item.getTrackIndex(),
    };
  }

  async function importAndPlace(path, clip) {
    const { project, sequence } = await activeSequence();
    const ok = await project.importFiles([path], true);
    if (!ok) throw new Error("Premiere could not import " + path);
    const root = await project.getRootItem();
    const items = await root.getItems();
    let imported = null;
    for (const it of items) {
      const c = ppro().ClipProjectItem.cast(it);
      if (c && (await c.getMediaFilePath()) === path) { imported = c; }
    }
    if (!imported) throw new Error("imported item not found in the project");
    const target = clip.trackIndex + 1;
    const count = await sequence.getVideoTrackCount();
    if (target >= count) throw new Error("add a video track above the clip's track, then run again");
    const editor = ppro().SequenceEditor.getEditor(sequence);
    const time = ppro().TickTime.createWithSeconds(clip.startSeconds);
    project.lockedAccess(() => {
      project.executeTransaction((compound) => {
        compound.addAction(editor.createOverwriteItemAction(imported, time, target, -1));
      }, "vedit: place result");
    });
    return { trackIndex: target };
  }

  async function readToken() {
    const fs = require("fs");
    const os = require("os");
    const home = os.homedir();
    const base = (typeof process !== "undefined" && process.env && process.env.VEDIT_HOME) || home + "/.config/vedit";
    return String(await fs.readFile(base + "/token", { encoding: "utf-8" })).trim();
  }

  globalThis.veditHost = { getSelectedClip, importAndPlace, readToken };
})();
