/* Check-in: camera QR scanning on top of the plain code form (which works without this). */
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form) { return; }
  var input = document.getElementById("code");
  var scanner = document.getElementById("scanner");
  var toggle = document.getElementById("scanner-toggle");
  var video = document.getElementById("scanner-video");
  var statusLine = document.getElementById("scanner-status");
  var stream = null;
  var detect = null;
  var timer = null;
  var lastCode = "";
  var lastAt = 0;
  var SCAN_EVERY_MS = 200;
  var SAME_CODE_PAUSE_MS = 4000; // a ticket held in front of the camera is checked once

  // After each check the field is emptied, ready for the next ticket (or hand scanner).
  form.addEventListener("htmx:afterRequest", function () {
    input.value = "";
    if (!stream) { input.focus(); }
  });

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  scanner.hidden = false;

  function say(text) { statusLine.textContent = text; }

  function submitCode(code) {
    input.value = code;
    // requestSubmit fires the submit event htmx listens for; without htmx it posts the form.
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) { resolve(window.jsQR); return; }
      var script = document.createElement("script");
      script.src = form.getAttribute("data-jsqr-src");
      script.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR missing")); };
      script.onerror = function () { reject(new Error("the QR decoder could not be loaded")); };
      document.head.appendChild(script);
    });
  }

  function jsQRDetector() {
    return loadJsQR().then(function (jsQR) {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      return function () {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) { return Promise.resolve(null); }
        // Decoding a smaller frame is much faster and still reads a ticket held up close.
        var scale = Math.min(1, 720 / Math.max(w, h));
        canvas.width = Math.round(w * scale);
        canvas.height = Math.round(h * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var frame = context.getImageData(0, 0, canvas.width, canvas.height);
        var found = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "attemptBoth" });
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  function nativeDetector() {
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) { return jsQRDetector(); }
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function () {
        return detector.detect(video).then(function (codes) {
          return codes.length ? codes[0].rawValue : null;
        });
      };
    });
  }

  function makeDetector() {
    if (detect) { return Promise.resolve(detect); }
    var made = ("BarcodeDetector" in window) ? nativeDetector().catch(jsQRDetector) : jsQRDetector();
    return made.then(function (fn) { detect = fn; return fn; });
  }

  function scan() {
    if (!stream) { return; }
    detect().then(function (code) {
      var now = Date.now();
      if (code && (code !== lastCode || now - lastAt > SAME_CODE_PAUSE_MS)) {
        lastCode = code;
        lastAt = now;
        say("Code read, checking…");
        submitCode(code);
      }
    }).catch(function () { /* a frame that can't be read: try the next one */ })
      .then(function () { if (stream) { timer = window.setTimeout(scan, SCAN_EVERY_MS); } });
  }

  function start() {
    say("Starting the camera…");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        return video.play();
      })
      .then(makeDetector)
      .then(function () {
        toggle.textContent = "Stop camera";
        toggle.setAttribute("aria-pressed", "true");
        say("Camera on: hold a ticket's QR code in front of it.");
        scan();
      })
      .catch(function (error) {
        stop();
        say("The camera can't be used (" + (error && error.message ? error.message : "no access") +
            "). Type the code instead.");
      });
  }

  function stop() {
    if (timer) { window.clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    toggle.textContent = "Start camera";
    toggle.setAttribute("aria-pressed", "false");
  }

  toggle.addEventListener("click", function () {
    if (stream) { stop(); say("Camera off."); } else { start(); }
  });
  // Don't keep the camera running in a background tab.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && stream) { stop(); say("Camera off."); }
  });
})();
