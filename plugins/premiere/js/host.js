/*
 * Premiere Pro host calls (UXP `premierepro` module, Premiere 25.6+). This is
 * the only file that touches the host; panel.js talks to it through
 * globalThis.veditHost:
 *   getSelectedClip() -> {name, path, inSeconds, outSeconds, fps, startSeconds, endSeconds, speed?, trackIndex}
 *   importAndPlace(path, clip) -> {trackIndex}: overwrites the result onto the first video track above
 *     the clip that is free over the clip's time, or onto a new track added at the top
 *   readToken(tokenFile) -> token text from tokenFile, default ~/.config/vedit/token
 *     (UXP has no environment: VEDIT_HOME cannot be read here; the panel's
 *     Settings take another file or a pasted token)
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
    const end = await item.getEndTime();
    // the speed getter is used where this Premiere has it; otherwise the panel
    // compares the source and timeline durations (a changed speed shows there)
    let speed;
    if (typeof item.getSpeed === "function") speed = Number(await item.getSpeed());
    return {
      name: await item.getName(),
      path: path,
      inSeconds: inPoint.seconds,
      outSeconds: outPoint.seconds,
      fps: Number(fps),
      startSeconds: start.seconds,
      endSeconds: end.seconds,
      speed: speed,
      trackIndex: await item.getTrackIndex(),
    };
  }

  function samePath(a, b) {
    const norm = (p) => String(p || "").replace(/\\/g, "/").replace(/\/+$/, "");
    const win = /^[A-Za-z]:\//.test(norm(a));
    return win ? norm(a).toLowerCase() === norm(b).toLowerCase() : norm(a) === norm(b);
  }

  async function clipItems(bin, out) {
    // every clip project item under `bin`, bins searched too (the import may land in any bin)
    for (const it of (await bin.getItems()) || []) {
      const cast = (cls) => { try { return cls && cls.cast ? cls.cast(it) : null; } catch (e) { return null; } };
      const folder = cast(ppro().FolderItem);
      if (folder && typeof folder.getItems === "function") { await clipItems(folder, out); continue; }
      const c = cast(ppro().ClipProjectItem);
      if (c) out.push(c);
    }
    return out;
  }

  // a video track above `below` with nothing between `start` and `end` (seconds), or -1
  async function freeTrackAbove(sequence, below, start, end) {
    const count = await sequence.getVideoTrackCount();
    const constants = ppro().Constants;
    const CLIP = (constants && constants.TrackItemType && constants.TrackItemType.CLIP) || 1;
    for (let t = below + 1; t < count; t++) {
      const track = await sequence.getVideoTrack(t);
      if (!track) continue;
      let busy = false;
      for (const it of (await track.getTrackItems(CLIP, false)) || []) {
        const s = (await it.getStartTime()).seconds;
        const e = (await it.getEndTime()).seconds;
        if (s < end - 1e-6 && e > start + 1e-6) { busy = true; break; }
      }
      if (!busy) return t;
    }
    return -1;
  }

  // one undoable edit; actions are made inside lockedAccess (required from 26.3)
  function transact(project, label, makeAction) {
    let ok = false;
    project.lockedAccess(() => {
      ok = project.executeTransaction((compound) => { compound.addAction(makeAction()); }, label);
    });
    if (ok === false) throw new Error("Premiere refused the edit (" + label + ")");
  }

  async function importAndPlace(path, clip) {
    const { project, sequence } = await activeSequence();
    const root = await project.getRootItem();
    const before = new Set();
    for (const c of await clipItems(root, [])) before.add(await c.getId?.() ?? c);
    const ok = await project.importFiles([path], true);
    if (!ok) throw new Error("Premiere could not import " + path);
    // the item this import made: new since the import, with the result's media path
    // (an older import of the same file is used only when Premiere reused it)
    let imported = null;
    let reused = null;
    for (const c of await clipItems(root, [])) {
      if (!samePath(await c.getMediaFilePath(), path)) continue;
      if (!before.has(await c.getId?.() ?? c)) imported = c; else reused = c;
    }
    imported = imported || reused;
    if (!imported) throw new Error("the imported result was not found in the project: " + path);
    const start = clip.startSeconds;
    const end = clip.endSeconds !== undefined ? clip.endSeconds : start + (clip.outSeconds - clip.inSeconds);
    const editor = ppro().SequenceEditor.getEditor(sequence);
    const time = ppro().TickTime.createWithSeconds(start);
    let target = await freeTrackAbove(sequence, clip.trackIndex, start, end);
    if (target >= 0) {
      transact(project, "vedit: place result", () => editor.createOverwriteItemAction(imported, time, target, -1));
    } else {
      // no free track above: an insert past the last video track makes a new one (documented for
      // createInsertProjectItemAction); limitShift keeps the insert from moving anything else
      const count = await sequence.getVideoTrackCount();
      transact(project, "vedit: place result on a new track",
        () => editor.createInsertProjectItemAction(imported, time, count, -1, true));
      if ((await sequence.getVideoTrackCount()) <= count) {
        throw new Error("no free video track above V" + (clip.trackIndex + 1) + " at the clip's time, and Premiere " +
          "did not add one: add an empty video track and place the result by hand (it is in the project: " + path + ")");
      }
      target = count;
    }
    return { trackIndex: target };
  }

  async function readToken(tokenFile) {
    const fs = require("fs");
    const os = require("os");
    let file = tokenFile || os.homedir() + "/.config/vedit/token";
    if (file.startsWith("~/")) file = os.homedir() + file.slice(1);
    return String(await fs.readFile(file, { encoding: "utf-8" })).trim();
  }

  globalThis.veditHost = { getSelectedClip, importAndPlace, readToken };
})();
