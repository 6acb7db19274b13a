-- A recording stand-in for REAPER's `reaper` API table, for running a ReaScript under plain
-- Lua. Usage: lua5.4 reaper_api.lua SCRIPT. Every API call the script makes is printed as one
-- JSON array per line: ["Name", arg1, arg2, ...]; tracks, items, takes and sources print as
-- "track:1", "item:2", ... The fake project is set up from environment variables:
--   FAKE_INPUTS       answer of GetUserInputs (fields separated by new lines); unset = cancel
--   FAKE_CURSOR, FAKE_BPM, FAKE_NUM, FAKE_DEN, FAKE_SRATE, FAKE_SRATE_USE, FAKE_TRACKS
--   FAKE_PROJECT_PATH project media path
--   FAKE_SESSION      folder whose files stand for what `stemloom generate` writes to --dest
--   FAKE_EXIT         exit code ExecProcess reports (default 0)
--   FAKE_OUTPUT       what the command prints, as ExecProcess returns it after the exit code
--                     (default: "Placed stems", or "the engine said no" when FAKE_EXIT is set)
--   FAKE_LENGTHS      "file=seconds" lines: GetMediaSourceLength answers
--   FAKE_UNREADABLE   a file name PCM_Source_CreateFromFile refuses

local script = assert(arg[1], "usage: reaper_api.lua SCRIPT")
local env = os.getenv

local function json(value)
  local kind = type(value)
  if kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif kind == "number" or kind == "boolean" then
    return tostring(value)
  elseif kind == "table" and value.handle then
    return json(value.handle)
  elseif kind == "nil" then
    return "null"
  end
  error("cannot record a " .. kind)
end

local function record(name, ...)
  local parts = { json(name) }
  for i = 1, select("#", ...) do parts[#parts + 1] = json((select(i, ...))) end
  io.write("[", table.concat(parts, ","), "]\n")
end

local counters = {}
local function handle(kind)
  counters[kind] = (counters[kind] or 0) + 1
  return { handle = kind .. ":" .. counters[kind] }
end

local tracks = {}
for _ = 1, tonumber(env("FAKE_TRACKS") or "0") do tracks[#tracks + 1] = handle("track") end
local lengths = {}
for name, seconds in (env("FAKE_LENGTHS") or ""):gmatch("([^=\n]+)=([^\n]+)") do
  lengths[name] = tonumber(seconds)
end
local source_files, ext_state = {}, {}

local api = {}

function api.GetUserInputs(title, count, captions, defaults)
  record("GetUserInputs", title, count, captions, defaults)
  local answer = env("FAKE_INPUTS")
  return answer ~= nil, answer or defaults
end

function api.GetExtState(section, key)
  record("GetExtState", section, key)
  return ext_state[section .. "/" .. key] or ""
end

function api.SetExtState(section, key, value, persist)
  record("SetExtState", section, key, value, persist)
  ext_state[section .. "/" .. key] = value
end

function api.GetCursorPosition()
  record("GetCursorPosition")
  return tonumber(env("FAKE_CURSOR") or "0")
end

function api.TimeMap_GetTimeSigAtTime(project, time)
  record("TimeMap_GetTimeSigAtTime", project, time)
  return tonumber(env("FAKE_NUM") or "4"), tonumber(env("FAKE_DEN") or "4"),
    tonumber(env("FAKE_BPM") or "120")
end

function api.GetSetProjectInfo(project, name, value, set)
  record("GetSetProjectInfo", project, name, value, set)
  if name == "PROJECT_SRATE_USE" then return tonumber(env("FAKE_SRATE_USE") or "0") end
  return tonumber(env("FAKE_SRATE") or "44100")
end

function api.GetProjectPath()
  record("GetProjectPath")
  return assert(env("FAKE_PROJECT_PATH"), "FAKE_PROJECT_PATH not set")
end

function api.file_exists(path)
  record("file_exists", path)
  local file = io.open(path, "rb")
  if file then file:close() end
  return file ~= nil
end

function api.ExecProcess(command, timeout)
  record("ExecProcess", command, timeout)
  -- The script passes `"PROGRAM" --args-from "FILE"`; what FILE holds is recorded too.
  local file = command:match('%-%-args%-from "([^"]+)"$')
  local handle = file and io.open(file, "rb")
  local arguments = handle and handle:read("a") or ""
  if handle then handle:close() end
  record("Arguments", arguments)
  local code = tonumber(env("FAKE_EXIT") or "0")
  if code == 0 then
    -- Stand in for `stemloom generate --daw folder --dest DEST`: DEST gets the session.
    local dest = assert(arguments:match('"%-%-dest", "([^"]+)"'), "no --dest in " .. arguments)
    local from = assert(env("FAKE_SESSION"), "FAKE_SESSION not set")
    assert(os.execute("mkdir -p '" .. dest .. "' && cp '" .. from .. "'/* '" .. dest .. "'/"))
  end
  return code .. "\n" .. (env("FAKE_OUTPUT") or (code == 0 and "Placed stems"
                                                     or "the engine said no"))
end

function api.RecursiveCreateDirectory(path, ignored)
  record("RecursiveCreateDirectory", path, ignored)
  assert(os.execute("mkdir -p '" .. path .. "'"))
  return 1
end

function api.CountTracks(project)
  record("CountTracks", project)
  return #tracks
end

function api.InsertTrackAtIndex(index, defaults)
  record("InsertTrackAtIndex", index, defaults)
  table.insert(tracks, index + 1, handle("track"))
end

function api.GetTrack(project, index)
  record("GetTrack", project, index)
  return tracks[index + 1]
end

function api.DeleteTrack(track)
  record("DeleteTrack", track)
  for i, candidate in ipairs(tracks) do
    if candidate == track then table.remove(tracks, i) end
  end
end

function api.GetSetMediaTrackInfo_String(track, name, value, set)
  record("GetSetMediaTrackInfo_String", track, name, value, set)
  return true, value
end

function api.PCM_Source_CreateFromFile(path)
  record("PCM_Source_CreateFromFile", path)
  local name = path:match("([^/]+)$")
  if name == env("FAKE_UNREADABLE") then return nil end
  local source = handle("source")
  source_files[source] = name
  return source
end

function api.AddMediaItemToTrack(track)
  record("AddMediaItemToTrack", track)
  return handle("item")
end

function api.AddTakeToMediaItem(item)
  record("AddTakeToMediaItem", item)
  return handle("take")
end

function api.SetMediaItemTake_Source(take, source)
  record("SetMediaItemTake_Source", take, source)
  return true
end

function api.GetMediaSourceLength(source)
  record("GetMediaSourceLength", source)
  return assert(lengths[source_files[source]], "no FAKE_LENGTHS entry"), false
end

function api.SetMediaItemInfo_Value(item, name, value)
  record("SetMediaItemInfo_Value", item, name, value)
  return true
end

function api.GetSetMediaItemTakeInfo_String(take, name, value, set)
  record("GetSetMediaItemTakeInfo_String", take, name, value, set)
  return true, value
end

for _, name in ipairs({ "Undo_BeginBlock", "Undo_EndBlock", "PreventUIRefresh",
                        "UpdateArrange", "ShowMessageBox", "ShowConsoleMsg" }) do
  api[name] = function(...) record(name, ...) return 1 end
end

reaper = setmetatable(api, {
  __index = function(_, name) error("the script called an API the fake lacks: " .. name) end,
})

dofile(script)
