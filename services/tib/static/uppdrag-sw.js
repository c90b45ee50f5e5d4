// The service worker of /uppdrag: keeps the page and its files on the phone, so the page
// opens without network (its list of orders and the queue of actions are in localStorage,
// see uppdrag.js). Network first, the stored copy when there is none. The API is never
// answered from here: a queued action must reach the server, not a cache.
"use strict";
const CACHE = "uppdrag-v1";
const SHELL = ["/uppdrag", "/uppdrag.webmanifest", "/tib/static/uppdrag.js", "/tib/static/uppdrag.css",
  "/tib/static/uppdrag-ikon.svg", "/assets/leaflet.js", "/assets/leaflet.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((c) => c.put(url.pathname, copy));
    }
    return response;
  }).catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())));
});
