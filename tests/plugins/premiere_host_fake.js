/* Runs plugins/premiere/js/host.js under Node with a fake `premierepro` module
 * that answers the documented calls host.js makes, from a scenario:
 *   node premiere_host_fake.js HOST_JS '{"tracks": [[[start, end], ...], ...], "clip": {...},
 *                                        "path": "...", "insertAddsTrack": true, "existing": [paths]}'
 * tracks: per video track the clips on it (seconds); existing: clip items already in the root bin. Prints one JSON line:
 * {result | error, actions, tracks}. Actions made outside lockedAccess fail. */
"use strict";
const vm = require("vm");
const fs = require("fs");

const [hostPath, scenarioText] = process.argv.slice(2);
const sc = JSON.parse(scenarioText);
const tracks = sc.tracks.map((t) => t.map(([s, e]) => ({ s, e })));
const actions = [];
let locked = false;

const clipItem = (path, id) => ({ kind: "clip", path, id, async getMediaFilePath() { return path; },
  async getId() { return id; } });
const bin = { kind: "folder", items: [clipItem("/media/shot.mp4", "a")], async getItems() { return this.items; } };
// earlier imports of the same result path (ids "old0", ...): the new import's item must be the one placed
(sc.existing || []).forEach((p, i) => bin.items.push(clipItem(p, "old" + i)));
const sub = { kind: "folder", items: [], async getItems() { return this.items; } };
bin.items.push(sub);

const trackApi = (i) => ({
  async getTrackItems(type, includeEmpty) {
    if (type !== 1 || includeEmpty !== false) throw new Error("getTrackItems(CLIP, false) expected");
    return tracks[i].map((x) => ({ async getStartTime() { return { seconds: x.s }; },
      async getEndTime() { return { seconds: x.e }; } }));
  },
});
const sequence = {
  async getVideoTrackCount() { return tracks.length; },
  async getVideoTrack(i) { return i < tracks.length ? trackApi(i) : null; },
};
const duration = sc.clip.outSeconds - sc.clip.inSeconds;
const editor = {
  createOverwriteItemAction(item, time, v, a) {
    if (!locked) throw new Error("action made outside lockedAccess");
    return { kind: "overwrite", path: item.path, id: item.id, t: time.seconds, v, a };
  },
  createInsertProjectItemAction(item, time, v, a, limitShift) {
    if (!locked) throw new Error("action made outside lockedAccess");
    return { kind: "insert", path: item.path, id: item.id, t: time.seconds, v, a, limitShift };
  },
};
const project = {
  async getActiveSequence() { return sequence; },
  async getRootItem() { return bin; },
  async importFiles(paths) { sub.items.push(clipItem(paths[0], "new")); return true; },
  lockedAccess(fn) { locked = true; try { fn(); } finally { locked = false; } },
  executeTransaction(cb, label) {
    const batch = [];
    cb({ addAction(a) { batch.push(a); } });
    for (const a of batch) {
      actions.push(Object.assign({ label }, a));
      if (a.kind === "overwrite" && a.v < tracks.length) tracks[a.v].push({ s: a.t, e: a.t + duration });
      if (a.kind === "insert" && a.v >= tracks.length && sc.insertAddsTrack) tracks.push([{ s: a.t, e: a.t + duration }]);
    }
    return true;
  },
};
const ppro = {
  Constants: { TrackItemType: { EMPTY: 0, CLIP: 1 } },
  Project: { async getActiveProject() { return project; } },
  ClipProjectItem: { cast: (x) => (x.kind === "clip" ? x : null) },
  FolderItem: { cast: (x) => (x.kind === "folder" ? x : null) },
  SequenceEditor: { getEditor: () => editor },
  TickTime: { createWithSeconds: (s) => ({ seconds: s }) },
};
const context = vm.createContext({ require: (n) => (n === "premierepro" ? ppro : require(n)), console });
vm.runInContext(fs.readFileSync(hostPath, "utf8"), context, { filename: hostPath });
context.veditHost.importAndPlace(sc.path, sc.clip).then(
  (result) => console.log(JSON.stringify({ result, actions, tracks })),
  (e) => console.log(JSON.stringify({ error: e.message, actions, tracks })));
