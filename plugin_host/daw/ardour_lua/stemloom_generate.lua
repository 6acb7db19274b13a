ardour {
	["type"]    = "EditorAction",
	name        = "Stemloom: Generate Stems",
	license     = "GPL-3.0-or-later",
	author      = "Stemloom developers",
	description = [[Type a prompt; Stemloom makes stems at the session tempo and meter and
puts each on a new track at the playhead. The key, and bars and stems left empty, come from
the prompt's words ("acid house, 16 bars, Gm, 303 line, crisp hats"). Needs the `stemloom`
command (see docs/daws/ardour.md).]]
}

-- Ardour keeps only what factory () returns, so every helper lives inside it.
function factory () return function ()

	-- One argument for /bin/sh, whatever it holds.
	local function quote (text)
		return "'" .. tostring (text):gsub ("'", "'\\''") .. "'"
	end

	-- The clip files a folder session lists in session.json. Stemloom gives clips safe names
	-- (letters, digits, . _ -), so a pattern finds them without a JSON parser.
	local function clip_files (folder)
		local file = io.open (folder .. "/session.json", "r")
		if not file then return {} end
		local text = file:read ("a")
		file:close ()
		local files = {}
		for name in text:gmatch ('"file"%s*:%s*"([^"]+)"') do
			table.insert (files, folder .. "/" .. name)
		end
		return files
	end

	local function fail (message)
		LuaDialog.Message ("Stemloom", message, LuaDialog.MessageType.Error,
			LuaDialog.ButtonType.Close):run ()
	end

	local function trim (text)
		return (tostring (text or ""):match ("^%s*(.-)%s*$"))
	end

	-- The lines stemloom printed that start with "Note: ": what it used where the prompt's
	-- words said otherwise ("the prompt says 132 BPM; the DAW session's 120 BPM is used").
	local function notes (log)
		local file = io.open (log, "r")
		if not file then return {} end
		local found = {}
		for line in file:lines () do
			if line:sub (1, 6) == "Note: " then table.insert (found, line:sub (7)) end
		end
		file:close ()
		return found
	end

	local playhead = Session:transport_sample ()
	local at = Temporal.timepos_t (playhead)
	local tm = Temporal.TempoMap.read ()
	local meter = tm:meter_at (at)
	local bpm = tm:quarters_per_minute_at (at)

	local answers = LuaDialog.Dialog ("Stemloom: generate stems", {
		{ type = "heading", title = string.format ("%.2f BPM, %d/%d, at the playhead", bpm,
			meter:divisions_per_bar (), meter:note_value ()) },
		{ type = "label", title = "Tempo and meter are the session's; bars and stems left "
			.. "empty come from the prompt (\"16 bars, 303 line, crisp hats\"). While the stems "
			.. "are made, their preview plays through the default output device." },
		{ type = "entry", key = "prompt", title = "Prompt", default = "" },
		{ type = "entry", key = "bars", title = "Bars (empty: from the prompt)", default = "" },
		{ type = "entry", key = "stems", title = "Stems (empty: from the prompt)", default = "" },
		{ type = "entry", key = "command", title = "Stemloom command", default = "stemloom" },
	}):run ()
	if not answers then return end
	local prompt, bars, stems = trim (answers["prompt"]), trim (answers["bars"]),
		trim (answers["stems"])
	if prompt == "" then return end
	if bars ~= "" and not (bars:match ("^%d+$") and tonumber (bars) > 0) then
		fail ("Bars must be a whole number, or empty to take the length from the prompt.")
		return
	end

	local folder = os.tmpname ()
	os.remove (folder) -- tmpname made a file; the folder adapter wants the name for a folder
	local log = folder .. ".log"
	-- The session's tempo and meter beat the prompt's words (stemloom notes it when they
	-- disagree); bars and stems go only when filled in, else the words decide.
	local args = {
		quote (answers["command"]), "generate", quote (prompt),
		"--session-bpm", string.format ("%.4f", bpm),
		"--session-time-signature", string.format ("%d/%d", meter:divisions_per_bar (),
			meter:note_value ()),
	}
	if bars ~= "" then table.insert (args, "--bars " .. bars) end
	if stems ~= "" then table.insert (args, "--stems " .. quote (stems)) end
	-- The preview plays through the default output device as it streams, while Ardour waits.
	table.insert (args, "--play --daw folder --dest " .. quote (folder))
	-- Blocks the GUI until the stems are made; Ardour resamples them on import if needed.
	local ok = os.execute (table.concat (args, " ") .. " >" .. quote (log) .. " 2>&1")
	local files = clip_files (folder)
	if not ok or #files == 0 then
		fail ("Stemloom could not make the stems; see " .. log)
		return
	end

	local paths = C.StringVector ()
	for _, path in ipairs (files) do paths:push_back (path) end
	-- One new track per file, at the playhead; Ardour copies the files into the session.
	Editor:do_import (paths, Editing.ImportDistinctFiles, Editing.ImportAsTrack,
		ARDOUR.SrcQuality.SrcBest, ARDOUR.MidiTrackNameSource.SMFTrackName,
		ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore, at, ARDOUR.PluginInfo (),
		ARDOUR.Track (), false)

	local said = notes (log)
	if #said > 0 then
		LuaDialog.Message ("Stemloom", table.concat (said, "\n"), LuaDialog.MessageType.Info,
			LuaDialog.ButtonType.Close):run ()
	end
end end
