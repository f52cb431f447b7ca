/* FilmSphere service worker. Served by pwa.service_worker at /sw.js (root scope), which
   fills in the version and the precache list below; everything else is plain JS.

   - static files (/static/…?v=<content hash>): cache first — a versioned URL never changes;
   - pages: network first, always. Offline (or after 4 s without an answer), only /bookings,
     /bookings/<ref> and its ticket view /bookings/<ref>/tickets come from a copy saved when
     they were last seen online, with a banner saying so; every other page, including the
     live ones (seat maps, wallet), gets the offline page. Saving a ticket page also saves
     the ticket views it links to, so the door view opens offline without a visit first;
   - only successful GETs of whole pages are saved: never htmx fragments, never errors;
   - logging in or out drops the saved tickets. */
"use strict";

const CACHE_VERSION = {{ cache_version|tojson }};
const PRECACHE = {{ precache|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};

const PREFIX = "filmsphere-";
const STATIC_CACHE = PREFIX + "static-" + CACHE_VERSION;
// Not tied to the deploy: an update must not take tickets away at the cinema door.
const TICKETS_CACHE = PREFIX + "tickets-v1";
const TICKET_PAGE = /^\/bookings(?:\/[A-Za-z0-9_-]+(?:\/tickets)?)?\/?$/;
// The ticket views a saved page links to ("Show tickets"); a few upcoming bookings at most.
const TICKET_VIEW_LINK = /<a\b[^>]*?\shref="(\/bookings\/[A-Za-z0-9_-]+\/tickets)"[^>]*?\sdata-ticket-view-link/gi;
const MAX_TICKET_VIEWS = 10;
const LIST_URL = "/bookings";
const SESSION_CHANGES = ["/auth/login", "/auth/logout"];
const SAVED_AT = "X-FilmSphere-Saved-At";
const SLOW_NETWORK_MS = 4000;
const SLOW = "slow";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(STATIC_CACHE).then((cache) =>
      cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" })))
    )
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(PREFIX) && name !== STATIC_CACHE && name !== TICKETS_CACHE)
          .map((name) => caches.delete(name))
      );
      await self.clients.claim();
    })()
  );
});

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "SKIP_WAITING") {
    self.skipWaiting();
  } else if (type === "LOGOUT") {
    event.waitUntil(forgetTickets());
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // Belt and braces for app.js: whoever signs in or out, the saved tickets go.
    if (request.method === "POST" && SESSION_CHANGES.includes(url.pathname)) {
      event.waitUntil(forgetTickets());
    }
    return;
  }
  if (request.headers.has("HX-Request")) return; // fragments are live data: straight to the network
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFirst(request));
  } else if (request.destination === "image") {
    event.respondWith(networkThenSaved(request));
  }
});

function forgetTickets() {
  return caches.delete(TICKETS_CACHE);
}

async function navigate(event) {
  const request = event.request;
  const ticketPage = TICKET_PAGE.test(new URL(request.url).pathname);
  const network = fetch(request).then((response) => {
    if (ticketPage) event.waitUntil(rememberTicketPage(request, response.clone()));
    return response;
  });
  // Keeps the worker alive until the network answers, even if a saved copy answered first.
  event.waitUntil(network.catch(() => undefined));
  if (!ticketPage) {
    try {
      return await network;
    } catch (error) {
      return offlinePage();
    }
  }
  const saved = caches.open(TICKETS_CACHE).then((cache) => cache.match(request, { ignoreVary: true }));
  try {
    // At the cinema door the signal is often poor: a ticket must not wait for it forever.
    const slow = new Promise((resolve) => setTimeout(resolve, SLOW_NETWORK_MS, SLOW));
    const first = await Promise.race([network, slow]);
    if (first !== SLOW) return first;
    const copy = await saved;
    return copy ? withOfflineBanner(copy, "The connection is slow.") : await network;
  } catch (error) {
    const copy = await saved;
    return copy ? withOfflineBanner(copy, "You're offline.") : offlinePage();
  }
}

async function offlinePage() {
  const offline = await caches.match(OFFLINE_URL, { ignoreVary: true });
  return offline || new Response("You're offline.", {
    status: 503,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

async function rememberTicketPage(request, response) {
  const cache = await caches.open(TICKETS_CACHE);
  if (response.type === "opaqueredirect" || response.redirected || response.status === 401) {
    // Sent to log in: the session is over, and so is this device's claim on the tickets.
    await forgetTickets();
    return;
  }
  const html = await savePage(cache, request, response);
  if (html === null) {
    await cache.delete(request, { ignoreVary: true }); // e.g. a 404: not ours (any more)
    return;
  }
  const path = new URL(request.url).pathname.replace(/\/$/, "");
  const pages = [html];
  if (path !== LIST_URL) {
    // Keep "My bookings" in step, so the list that leads to this booking opens offline too.
    try {
      const list = await fetch(LIST_URL, { credentials: "same-origin", redirect: "manual" });
      const listHtml = await savePage(cache, LIST_URL, list);
      if (listHtml !== null) pages.push(listHtml);
    } catch (error) {
      // Offline again already: the booking itself is saved.
    }
  }
  await saveTicketViews(cache, pages, path);
}

// The door's ticket views that the saved pages link to, so that "Show tickets" works
// offline even for a booking whose ticket view was never opened online.
async function saveTicketViews(cache, pages, except) {
  const urls = new Set();
  for (const html of pages) {
    for (const match of html.matchAll(TICKET_VIEW_LINK)) urls.add(match[1]);
  }
  urls.delete(except);
  await Promise.all(
    [...urls].slice(0, MAX_TICKET_VIEWS).map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin", redirect: "manual" });
        if ((await savePage(cache, url, response)) === null) await cache.delete(url);
      } catch (error) {
        // Offline again already: this one opens next time.
      }
    })
  );
}

// Saves a whole, successful HTML page (stamped with the time) and what it needs to draw;
// returns its HTML, or null when the response is not such a page (nothing is saved).
async function savePage(cache, key, response) {
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 200 || response.type !== "basic" || !type.startsWith("text/html")) {
    return null;
  }
  const html = await response.text();
  const headers = new Headers(response.headers);
  headers.set(SAVED_AT, new Date().toISOString());
  headers.delete("Content-Length");
  await cache.put(key, new Response(html, { status: 200, headers }));
  await saveSubresources(cache, html);
  return html;
}

// What a saved page needs to draw offline (its CSS, scripts, QR and poster images), kept
// with the tickets so that a later deploy, which drops the old static cache, can't break it.
async function saveSubresources(cache, html) {
  const urls = new Set();
  const pattern = /<(?:img|script|link)\b[^>]*?\s(?:src|href)="(\/(?!\/)[^"]*)"/gi;
  for (const match of html.matchAll(pattern)) {
    const url = match[1].replace(/&amp;/g, "&");
    if (url.startsWith("/static/") || url.startsWith("/bookings/") || url.startsWith("/movies/") || url.startsWith("/tickets/")) {
      urls.add(url);
    }
  }
  await Promise.all(
    [...urls].map(async (url) => {
      if (await cache.match(url)) return;
      try {
        const response = (await caches.match(url)) || (await fetch(url));
        if (response.status === 200) await cache.put(url, response.clone());
      } catch (error) {
        // Offline again already: the page is still saved, the missing image shows its alt text.
      }
    })
  );
}

async function withOfflineBanner(saved, reason) {
  const html = await saved.text();
  const stamp = saved.headers.get(SAVED_AT);
  const when = stamp ? " on " + new Date(stamp).toLocaleString("en-GB", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  }) : "";
  const banner =
    '<p class="offline-banner" role="status">' + reason + " This is the copy saved on this device" +
    when + " — it may be out of date.</p>";
  const headers = new Headers(saved.headers);
  headers.delete("Content-Length");
  return new Response(html.replace(/(<main\b[^>]*>)/i, "$1" + banner), { status: 200, headers });
}

async function staticFirst(request) {
  const hit = await caches.match(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    if (response.status === 200 && new URL(request.url).searchParams.has("v")) {
      const cache = await caches.open(STATIC_CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    // Offline, on a page saved under an older deploy: any version of the file beats none.
    const older = await caches.match(request, { ignoreSearch: true });
    if (older) return older;
    throw error;
  }
}

async function networkThenSaved(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const saved = await caches.match(request, { ignoreVary: true });
    if (saved) return saved;
    throw error;
  }
}
