/* Stand-in for plugins/premiere/js/host.js in headless Chromium: the same
 * three calls, answering from window.__veditTest (set by the test before the
 * page loads) and recording every call in window.__calls. */
(function () {
  const cfg = () => window.__veditTest;
  window.__calls = [];
  globalThis.veditHost = {
    async getSelectedClip() {
      window.__calls.push(["getSelectedClip"]);
      return Object.assign({}, cfg().clip);
    },
    async importAndPlace(path, clip) {
      window.__calls.push(["importAndPlace", path, clip]);
      return { trackIndex: clip.trackIndex + 1 };
    },
    async readToken(tokenFile) {
      window.__calls.push(["readToken", tokenFile]);
      // cfg().tokens: what the token file holds at each read (a rotation), then cfg().token
      const seq = cfg().tokens;
      return Array.isArray(seq) && seq.length ? seq.shift() : cfg().token;
    },
  };
})();
