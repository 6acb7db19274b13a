-- @description Stemloom: generate stems from a prompt and insert them at the edit cursor
-- @about
--   Asks for a prompt and, optionally, bars and stems (left empty, they come from the
--   prompt's words: "acid house, 16 bars, 303 line, crisp hats"); runs `stemloom generate`
--   with the project's tempo and time signature as the session's, which win over the words
--   (the clips are written into the project's media folder, under Stemloom/<date-time>);
--   then puts each stem on a new track, starting at the edit cursor, as one undo step. If
--   any stem cannot be inserted, no track is left behind. What stemloom notes about the
--   prompt ("the prompt says 132 BPM; the session's 120 BPM is used") goes to the console.
--   REAPER waits while the stems are made (ExecProcess blocks), so keep requests short.

local SECTION = "Stemloom"
local UNDO_LABEL = "Stemloom: insert generated stems"
-- Captions may hold no comma (GetUserInputs splits them at commas). Bars and stems start
-- empty on every run and are not remembered: empty lets the prompt's words decide, and a
-- value kept from an earlier run would silently beat what the next prompt says.
local FIELDS = {
  { key = "prompt", caption = "Prompt", default = "" },
  { key = "bars", caption = "Bars (empty: from the prompt)", default = "" },
  { key = "stems", caption = "Stems (empty: from the prompt)", default = "" },
  { key = "command", caption = "stemloom program", default = "stemloom", remember = true },
}
local SAMPLE_RATES = { [32000] = true, [44100] = true, [48000] = true, [88200] = true,
                       [96000] = true }
local SEP = package.config:sub(1, 1)
local WINDOWS = SEP == "\\"

-- Quoting ------------------------------------------------------------------------------------

-- One argument for ExecProcess's command line. It runs no shell: on Windows the C runtime
-- splits the line (backslashes doubled only before a quote or the end); elsewhere a double-
-- quoted word with \ " $ ` escaped reads the same whether a shell splits it or REAPER does.
-- Only the program and the argument file's path go through here: the producer's words go in
-- the file (see write_arguments), so no quote they type has to survive a command line.
local function quote_arg(text)
  if not WINDOWS then
    return '"' .. text:gsub('([\\"$`])', "\\%1") .. '"'
  end
  local quoted = text:gsub('(\\*)"', function(slashes) return slashes .. slashes .. '\\"' end)
  quoted = quoted:gsub("(\\+)$", "%1%1")
  return '"' .. quoted .. '"'
end

-- A JSON string: quotes, backslashes and control characters escaped; UTF-8 kept as it is.
local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Writes the arguments as the JSON list `stemloom --args-from FILE` reads; returns FILE.
local function write_arguments(args, path)
  local encoded = {}
  for i, arg in ipairs(args) do encoded[i] = json_string(arg) end
  local handle = assert(io.open(path, "wb"))
  handle:write("[" .. table.concat(encoded, ", ") .. "]\n")
  handle:close()
  return path
end

-- A minimal JSON reader, enough for the folder session manifest ----------------------------

local decode_value

local function skip_space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                  r = "\r", t = "\t" }

local function decode_string(text, pos)
  local parts, i = {}, pos + 1
  while true do
    local char = text:sub(i, i)
    if char == "" then error("unterminated string in JSON") end
    if char == '"' then return table.concat(parts), i + 1 end
    if char == "\\" then
      local code = text:sub(i + 1, i + 1)
      if code == "u" then
        local unit = tonumber(text:sub(i + 2, i + 5), 16)
        if not unit then error("bad \\u escape in JSON") end
        i = i + 6
        if unit >= 0xD800 and unit < 0xDC00 and text:sub(i, i + 1) == "\\u" then
          local low = tonumber(text:sub(i + 2, i + 5), 16) or 0
          unit = 0x10000 + (unit - 0xD800) * 0x400 + (low - 0xDC00)
          i = i + 6
        end
        parts[#parts + 1] = utf8.char(unit)
      else
        parts[#parts + 1] = ESCAPES[code] or error("bad escape in JSON")
        i = i + 2
      end
    else
      parts[#parts + 1] = char
      i = i + 1
    end
  end
end

local function decode_list(text, pos, close, read_entry)
  pos = skip_space(text, pos + 1)
  if text:sub(pos, pos) == close then return pos + 1 end
  while true do
    pos = skip_space(text, read_entry(skip_space(text, pos)))
    local char = text:sub(pos, pos)
    if char == close then return pos + 1 end
    if char ~= "," then error("expected ',' or '" .. close .. "' in JSON") end
    pos = pos + 1
  end
end

function decode_value(text, pos)
  local char = text:sub(pos, pos)
  if char == "{" then
    local object = {}
    local after = decode_list(text, pos, "}", function(at)
      if text:sub(at, at) ~= '"' then error("expected a key in JSON") end
      local key, next_pos = decode_string(text, at)
      next_pos = skip_space(text, next_pos)
      if text:sub(next_pos, next_pos) ~= ":" then error("expected ':' in JSON") end
      local value
      value, next_pos = decode_value(text, skip_space(text, next_pos + 1))
      object[key] = value
      return next_pos
    end)
    return object, after
  elseif char == "[" then
    local array = {}
    local after = decode_list(text, pos, "]", function(at)
      local value, next_pos = decode_value(text, at)
      array[#array + 1] = value
      return next_pos
    end)
    return array, after
  elseif char == '"' then
    return decode_string(text, pos)
  end
  for word, value in pairs({ ["true"] = true, ["false"] = false }) do
    if text:sub(pos, pos + #word - 1) == word then return value, pos + #word end
  end
  if text:sub(pos, pos + 3) == "null" then return nil, pos + 4 end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if number == nil or number == "" then error("unexpected character in JSON at " .. pos) end
  return tonumber(number), pos + #number
end

local function decode_json(text)
  local value, pos = decode_value(text, skip_space(text, 1))
  if skip_space(text, pos) <= #text then error("trailing text after JSON") end
  return value
end

-- Talking to the user and to REAPER ----------------------------------------------------------

local function ask_settings()
  local captions, values = {}, {}
  for i, field in ipairs(FIELDS) do
    captions[i] = field.caption
    local stored = field.remember and reaper.GetExtState(SECTION, field.key) or ""
    values[i] = stored ~= "" and stored or field.default
  end
  -- Fields are separated by new lines, so a prompt may hold commas.
  local ok, answer = reaper.GetUserInputs("Stemloom: generate stems", #FIELDS,
    table.concat(captions, ",") .. ",separator=\n,extrawidth=320", table.concat(values, "\n"))
  if not ok then return nil end
  local settings, i = {}, 1
  for value in (answer .. "\n"):gmatch("([^\n]*)\n") do
    if FIELDS[i] then settings[FIELDS[i].key] = value end
    i = i + 1
  end
  for _, field in ipairs(FIELDS) do
    settings[field.key] = (settings[field.key] or ""):match("^%s*(.-)%s*$")
  end
  return settings
end

local function remember(settings)
  for _, field in ipairs(FIELDS) do
    if field.remember then
      reaper.SetExtState(SECTION, field.key, settings[field.key], true)
    end
  end
end

local function read_session()
  local cursor = reaper.GetCursorPosition()
  local numerator, denominator, bpm = reaper.TimeMap_GetTimeSigAtTime(0, cursor)
  local session = { cursor = cursor, bpm = bpm, numerator = numerator,
                    denominator = denominator }
  if reaper.GetSetProjectInfo(0, "PROJECT_SRATE_USE", 0, false) == 1 then
    local rate = math.floor(reaper.GetSetProjectInfo(0, "PROJECT_SRATE", 0, false) + 0.5)
    if SAMPLE_RATES[rate] then session.sample_rate = rate end
  end
  return session
end

-- A new folder under the project's media path that holds no earlier session.
local function fresh_destination()
  local base = reaper.GetProjectPath() .. SEP .. "Stemloom" .. SEP .. os.date("%Y%m%d-%H%M%S")
  local dest, n = base, 1
  while reaper.file_exists(dest .. SEP .. "session.json") do
    n = n + 1
    dest = base .. "-" .. n
  end
  return dest
end

-- The project's tempo and meter go as the session's: they beat the prompt's words (stemloom
-- notes it when the words disagree). Bars and stems go only when the producer filled them.
local function generate_command(settings, session, dest)
  local args = { "generate", settings.prompt,
                 "--session-bpm", string.format("%.6g", session.bpm),
                 "--session-time-signature", session.numerator .. "/" .. session.denominator }
  for _, key in ipairs({ "bars", "stems" }) do
    if settings[key] ~= "" then
      args[#args + 1] = "--" .. key
      args[#args + 1] = settings[key]
    end
  end
  -- --play: the producer hears the preview as it streams while REAPER waits for the stems.
  for _, arg in ipairs({ "--daw", "folder", "--dest", dest, "--bar", "1", "--play" }) do
    args[#args + 1] = arg
  end
  if session.sample_rate then
    args[#args + 1] = "--sample-rate"
    args[#args + 1] = tostring(session.sample_rate)
  end
  reaper.RecursiveCreateDirectory(dest:match("^(.*)[\\/]"), 0)
  local file = write_arguments(args, dest .. ".args.json")
  return quote_arg(settings.command) .. " --args-from " .. quote_arg(file), file
end

-- Runs the command; returns true and what it printed, or false and why.
local function run(command)
  local result = reaper.ExecProcess(command, 0)
  if result == nil then return false, "could not start: " .. command end
  local code, output = result:match("^(%-?%d+)\r?\n?(.*)$")
  if tonumber(code) ~= 0 then
    return false, "stemloom failed (exit " .. tostring(code) .. "):\n" .. (output or result)
  end
  return true, output
end

-- The lines stemloom starts with "Note: " (what it used where the prompt's words said
-- otherwise), shown in REAPER's console.
local function show_notes(output)
  local notes = {}
  for line in (output .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if line:sub(1, 6) == "Note: " then
      notes[#notes + 1] = "Stemloom: " .. line:sub(7) .. "\n"
    end
  end
  if #notes > 0 then reaper.ShowConsoleMsg(table.concat(notes)) end
end

-- The manifest's tracks as { name = ..., files = { absolute path, ... } }.
local function read_stems(dest)
  local handle, why = io.open(dest .. SEP .. "session.json", "rb")
  if not handle then error("no session.json from stemloom: " .. tostring(why)) end
  local manifest = decode_json(handle:read("a"))
  handle:close()
  local stems = {}
  for _, track in ipairs(manifest.tracks or {}) do
    local files = {}
    for _, clip in ipairs(track.clips or {}) do
      if clip.kind == "audio" then files[#files + 1] = dest .. SEP .. clip.file end
    end
    stems[#stems + 1] = { name = track.name, files = files }
  end
  if #stems == 0 then error("stemloom made no stems") end
  return stems
end

local function add_item(track, path, position)
  if not reaper.file_exists(path) then error("missing stem file " .. path) end
  local source = reaper.PCM_Source_CreateFromFile(path)
  if not source then error("REAPER cannot read " .. path) end
  local item = reaper.AddMediaItemToTrack(track)
  local take = reaper.AddTakeToMediaItem(item)
  reaper.SetMediaItemTake_Source(take, source)
  local length = reaper.GetMediaSourceLength(source)
  reaper.SetMediaItemInfo_Value(item, "D_POSITION", position)
  reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length)
  reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", path:match("([^\\/]+)$"), true)
end

-- New tracks at the end of the project, one per stem, items at ``position``; all or none.
local function insert_stems(stems, position)
  local created = {}
  local ok, why = pcall(function()
    for _, stem in ipairs(stems) do
      local index = reaper.CountTracks(0)
      reaper.InsertTrackAtIndex(index, true)
      local track = reaper.GetTrack(0, index)
      created[#created + 1] = track
      reaper.GetSetMediaTrackInfo_String(track, "P_NAME", stem.name, true)
      for _, path in ipairs(stem.files) do add_item(track, path, position) end
    end
  end)
  if not ok then
    for i = #created, 1, -1 do reaper.DeleteTrack(created[i]) end
  end
  return ok, why
end

local PLAYING = "Stemloom: making the stems; their preview plays through the default output "
  .. "device as it streams, and the stems land at the cursor when done.\n"

local function fail(message)
  reaper.ShowMessageBox(message, "Stemloom", 0)
end

local function main()
  local settings = ask_settings()
  if not settings then return end
  if settings.prompt == "" then return fail("Type a prompt first.") end
  local bars = settings.bars
  if bars ~= "" and not (bars:match("^%d+$") and tonumber(bars) > 0) then
    return fail("Bars must be a whole number, or empty to take the length from the prompt.")
  end
  remember(settings)
  local session = read_session()
  local dest = fresh_destination()
  local command, arguments = generate_command(settings, session, dest)
  reaper.ShowConsoleMsg(PLAYING)
  local made, output = run(command)
  os.remove(arguments)
  if not made then return fail(output) end
  show_notes(output or "")
  local read_ok, stems = pcall(read_stems, dest)
  if not read_ok then return fail(tostring(stems)) end

  reaper.Undo_BeginBlock()
  reaper.PreventUIRefresh(1)
  local placed, why = insert_stems(stems, session.cursor)
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  reaper.Undo_EndBlock(UNDO_LABEL, -1)
  if not placed then
    fail("The stems were made (in " .. dest .. ") but could not be inserted:\n" .. tostring(why))
  end
end

main()
