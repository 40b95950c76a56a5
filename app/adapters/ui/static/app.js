// Countersign pages: show times in the reader's own time zone, and keep a request's status
// page current. Everything works without this script; it only saves reloading by hand.
"use strict";

(function () {
  function localise() {
    var times = document.querySelectorAll("time[data-local]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) { continue; }
      var options = { hour: "2-digit", minute: "2-digit" };
      if (el.getAttribute("data-local") === "date") {
        options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
      }
      el.title = el.textContent;
      el.textContent = moment.toLocaleString([], options);
    }
  }

  // Only our own pages and absolute http(s) URLs (the server validated rd already).
  function safeTarget(url) {
    return /^https?:\/\//i.test(url) || (url.charAt(0) === "/" && url.charAt(1) !== "/");
  }

  function follow(status) {
    var url = status.getAttribute("data-poll");
    var state = status.getAttribute("data-state");
    var target = status.getAttribute("data-rd") || "";
    var interval = parseInt(status.getAttribute("data-interval"), 10) || 2000;
    function again(delay) { window.setTimeout(tick, delay); }
    function tick() {
      window.fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body || !body.state || body.state === state) { again(interval); return; }
          if (body.state === "approved" && target && safeTarget(target)) {
            window.location.assign(target);
          } else {
            window.location.reload();
          }
        }, function () { again(interval * 2); });
    }
    again(interval);
  }

  // The inbox: fetch this page again now and then and swap in its list when it changed, so
  // new requests appear (and answered ones go) without reloading by hand.
  function refresh(region) {
    var interval = parseInt(region.getAttribute("data-refresh"), 10) || 10000;
    function again(delay) { window.setTimeout(tick, delay); }
    function tick() {
      if (document.hidden) { again(interval); return; }
      window.fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html && window.DOMParser) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("inbox-region");
            if (fresh && fresh.innerHTML !== region.innerHTML) {
              region.innerHTML = fresh.innerHTML;
              localise();
            }
          }
          again(interval);
        }, function () { again(interval * 2); });
    }
    again(interval);
  }

  function start() {
    localise();
    var status = document.getElementById("status");
    if (status && status.getAttribute("data-poll") && window.fetch) { follow(status); }
    var region = document.getElementById("inbox-region");
    if (region && region.getAttribute("data-refresh") && window.fetch) { refresh(region); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
