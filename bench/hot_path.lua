-- The requests of bench/hot_path.py, for wrk. Each wrk thread has one connection, so a
-- thread is one sequential client that plays its own customers (cookie, CSRF token,
-- ETag); the plan (customers, seats, shows) is a Lua file the bench writes per run:
--   wrk -t N -c N -d 8s -s bench/hot_path.lua http://127.0.0.1:PORT -- plan.lua
-- Modes: "get" (a page or the grid; If-None-Match: the customer's ETag or a stale one),
-- "click" (each customer toggles its own seat, sending the ETag of its last answer),
-- "cycle_clicks" / "cycle_quick" (one booking: two clicks or a quick pick, then checkout,
-- in the thread's own shows). done() prints one line: RESULT {json}.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local plan, mine, customers
local ci = 0
local last -- the customer of the request in flight
local step, booking_no, show_i, in_show, advance = 0, 0, 1, 0, false
local cur
tally = {}
bookings = 0

function init(args)
  plan = dofile(args[1])
  mine = plan.threads[tid]
  customers = mine.customers
end

local function next_customer()
  ci = ci % #customers + 1
  return customers[ci]
end

local function post(path, c, extra)
  local headers = {
    ["User-Agent"] = plan.user_agent,
    ["Cookie"] = c.cookie,
    ["HX-Request"] = "true",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  if plan.send_etag and c.etag then
    headers["If-None-Match"] = c.etag
  end
  return wrk.format("POST", path, headers, "csrf_token=" .. c.csrf .. (extra or ""))
end

local function new_booking()
  in_show = in_show + 1
  if in_show > plan.per_show or advance then
    show_i = show_i % #mine.shows + 1
    in_show, advance = 1, false
  end
  booking_no = booking_no + 1
  cur = {
    c = next_customer(),
    show = mine.shows[show_i],
    pair = plan.pairs[in_show],
    -- 16+ characters of [A-Za-z0-9_-], as the app's checkout form wants
    token = string.format("%s-%03d-%06d", plan.run, tid, booking_no),
  }
end

function request()
  if plan.mode == "get" then
    local c = next_customer()
    last = c
    local headers = { ["User-Agent"] = plan.user_agent, ["Cookie"] = c.cookie }
    if plan.htmx then
      headers["HX-Request"] = "true"
    end
    if plan.etag == "own" then
      headers["If-None-Match"] = c.etag
    elseif plan.etag == "stale" then
      headers["If-None-Match"] = 'W/"stale"'
    end
    return wrk.format("GET", plan.path, headers)
  elseif plan.mode == "click" then
    local c = next_customer()
    last = c
    return post("/shows/" .. plan.show .. "/seats/" .. c.seat, c)
  end
  if step == 0 then
    new_booking()
  end
  last = cur.c
  local base = "/shows/" .. cur.show
  if step == 2 or (plan.mode == "cycle_quick" and step == 1) then
    return post(base .. "/checkout", cur.c, "&checkout_token=" .. cur.token)
  elseif plan.mode == "cycle_quick" then
    return post(base .. "/quick-pick", cur.c, "&count=2")
  end
  return post(base .. "/seats/" .. cur.pair[step + 1], cur.c)
end

function response(status, headers, body)
  tally[status] = (tally[status] or 0) + 1
  if plan.mode == "click" and last then
    last.etag = headers["ETag"] or headers["etag"] or last.etag
  end
  if plan.mode == "get" or plan.mode == "click" then
    return
  end
  local paying = step == 2 or (plan.mode == "cycle_quick" and step == 1)
  if paying then
    if status == 204 then
      bookings = bookings + 1
    end
    step = 0
  elseif plan.mode == "cycle_quick" and status >= 300 then
    advance, step = true, 0 -- no block left in this show: on to the next
  else
    step = step + 1
  end
end

function done(summary, latency, requests)
  local statuses, booked = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("tally")) do
      statuses[status] = (statuses[status] or 0) + n
    end
    booked = booked + thread:get("bookings")
  end
  local parts = {}
  for status, n in pairs(statuses) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "bookings": %d, '
      .. '"p50_us": %d, "p99_us": %d, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, booked,
    latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(parts, ", ")
  ))
end
