// The scan and audit pages' behaviour. Everything works without it (photo upload needs it; paste does
// not); with it, the phone's camera scans live where the browser has BarcodeDetector.
"use strict";
(function () {
  var lang = document.documentElement.lang === "en" ? "en" : "zh-TW";
  var msg = document.getElementById("msg");

  function resultPath(text) {
    text = text.trim();
    // A QR code may hold a verifier link; keep only the presentation after "/v/".
    var at = text.indexOf("/v/");
    if (/^https?:\/\//i.test(text) && at >= 0) {
      text = text.slice(at + 3).split(/[?#]/)[0];
      // A link with bad %-escapes is kept as it is: the verifier names it NOT GENUINE.
      try { text = decodeURIComponent(text); } catch (e) { /* kept */ }
    }
    return "/v/" + encodeURIComponent(text) + "?lang=" + lang;
  }

  function say(text) {
    if (msg) msg.textContent = text;
  }

  var photo = document.getElementById("photo");
  if (photo) {
    photo.addEventListener("change", function () {
      var file = photo.files && photo.files[0];
      if (!file) return;
      say(msg.getAttribute("data-reading"));
      // Every failure is told in the page's language: busy (408, 429, 503) or not read (a
      // photo with no QR code, one too large, or anything else).
      var busy = msg.getAttribute("data-busy"), noCode = msg.getAttribute("data-no-code");
      fetch("/api/v1/verify-image", { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } })
        .then(function (r) {
          if (r.ok) return r.json();
          throw (r.status === 408 || r.status === 429 || r.status === 503) ? busy : noCode;
        })
        .then(function (j) {
          if (j.presentation) {
            location.href = resultPath(j.presentation);
          } else {
            say(noCode);
          }
        })
        .catch(function (e) { say(typeof e === "string" ? e : busy); });
    });
  }

  // The auditor's page: a chosen bundle file is put into the form as base64.
  var bundleFile = document.getElementById("bundle-file");
  if (bundleFile) {
    bundleFile.addEventListener("change", function () {
      var file = bundleFile.files && bundleFile.files[0];
      if (!file) return;
      file.arrayBuffer().then(function (buf) {
        var bytes = new Uint8Array(buf), s = "";
        for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
        document.getElementById("bundle").value = btoa(s);
      });
    });
  }

  var camera = document.getElementById("camera");
  if (camera && "BarcodeDetector" in window && navigator.mediaDevices) {
    camera.hidden = false;
    document.getElementById("start-camera").addEventListener("click", function () {
      var video = document.getElementById("video");
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var timer = setInterval(function () {
          detector.detect(video).then(function (codes) {
            if (codes.length > 0) {
              clearInterval(timer);
              stream.getTracks().forEach(function (t) { t.stop(); });
              location.href = resultPath(codes[0].rawValue);
            }
          }).catch(function () {});
        }, 250);
      }).catch(function () { say(msg.getAttribute("data-no-camera")); });
    });
  }
})();
