ardour {
	["type"]    = "EditorAction",
	name        = "Stemloom: Generate Stems",
	license     = "GPL-3.0-or-later",
	author      = "Stemloom developers",
	description = [[Type a prompt; Stemloom makes stems at the session tempo and meter and
puts each on a new track at the playhead. Needs the `stemloom` command (see
docs/daws/ardour.md).]]
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

	local playhead = Session:transport_sample ()
	local at = Temporal.timepos_t (playhead)
	local tm = Temporal.TempoMap.read ()
	local meter = tm:meter_at (at)
	local bpm = tm:quarters_per_minute_at (at)

	local answers = LuaDialog.Dialog ("Stemloom: generate stems", {
		{ type = "heading", title = string.format ("%.2f BPM, %d/%d, at the playhead", bpm,
			meter:divisions_per_bar (), meter:note_value ()) },
		{ type = "entry", key = "prompt", title = "Prompt", default = "" },
		{ type = "number", key = "bars", title = "Bars", min = 1, max = 64, step = 1,
			digits = 0, default = 8 },
		{ type = "entry", key = "stems", title = "Stems", default = "drums,bass,keys,lead" },
		{ type = "entry", key = "command", title = "Stemloom command", default = "stemloom" },
	}):run ()
	if not answers or answers["prompt"] == "" then return end

	local folder = os.tmpname ()
	os.remove (folder) -- tmpname made a file; the folder adapter wants the name for a folder
	local command = table.concat ({
		quote (answers["command"]), "generate", quote (answers["prompt"]),
		"--bpm", string.format ("%.4f", bpm),
		"--bars", string.format ("%d", answers["bars"]),
		"--time-signature", string.format ("%d/%d", meter:divisions_per_bar (),
			meter:note_value ()),
		"--stems", quote (answers["stems"]),
		"--daw", "folder", "--dest", quote (folder),
	}, " ")
	-- Blocks the GUI until the stems are made; Ardour resamples them on import if needed.
	local ok = os.execute (command .. " >" .. quote (folder .. ".log") .. " 2>&1")
	local files = clip_files (folder)
	if not ok or #files == 0 then
		fail ("Stemloom could not make the stems; see " .. folder .. ".log")
		return
	end

	local paths = C.StringVector ()
	for _, path in ipairs (files) do paths:push_back (path) end
	-- One new track per file, at the playhead; Ardour copies the files into the session.
	Editor:do_import (paths, Editing.ImportDistinctFiles, Editing.ImportAsTrack,
		ARDOUR.SrcQuality.SrcBest, ARDOUR.MidiTrackNameSource.SMFTrackName,
		ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore, at, ARDOUR.PluginInfo (),
		ARDOUR.Track (), false)
end end
