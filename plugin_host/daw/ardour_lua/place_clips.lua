-- Load the pending snapshot (P.dir, P.snapshot, P.rate), make or find each track of
-- P.tracks, put a copy of each clip's whole-file region at its bar, and save.
-- A track is { key, name, route (Ardour id, "" for a new track), channels, clips };
-- a clip is { region (id of the whole-file region the host added), bar }.
start_engine (P.rate)
local session = load_session (P.dir, P.snapshot)
assert (session, "Ardour could not load the session")
local master = session:master_out ()
assert (not master:isnil (), "the session has no master bus")
local master_in = master:n_inputs ():n_audio ()
local tm = Temporal.TempoMap.read ()

local function new_track (spec)
	local list = session:new_audio_track (spec.channels, master_in, nil, 1, spec.name,
		ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
	assert (list:size () == 1, "Ardour could not create track " .. spec.name)
	local track = list:front ()
	-- Auto-connect runs asynchronously and may not have happened before we save.
	local out = track:output ()
	out:disconnect_all (nil)
	for i = 0, math.min (out:n_ports ():n_audio (), master_in) - 1 do
		assert (out:audio (i):connect (master:input ():audio (i):name ()) == 0,
			"could not connect " .. spec.name .. " to the master bus")
	end
	return track
end

local function existing_track (spec)
	local route = session:route_by_id (PBD.ID (spec.route))
	assert (not route:isnil (), "track " .. spec.name .. " is no longer in the session")
	local track = route:to_track ()
	assert (not track:isnil (), spec.name .. " is not a track")
	return track
end

for _, spec in ipairs (P.tracks) do
	local track = spec.route == "" and new_track (spec) or existing_track (spec)
	emit ("track", spec.key, track:to_stateful ():id ():to_s ())
	local playlist = track:playlist ()
	for _, clip in ipairs (spec.clips) do
		local whole = ARDOUR.RegionFactory.region_by_id (PBD.ID (clip.region))
		assert (not whole:isnil (), "region " .. clip.region .. " did not load")
		local region = ARDOUR.RegionFactory.clone_region (whole, true, false)
		playlist:add_region (region, Temporal.timepos_t (bar_to_sample (tm, clip.bar)), 1, false)
		emit ("region", spec.key, region:position ():samples (), region:length ():samples ())
	end
end

save (session)
close_session ()
emit ("done")
