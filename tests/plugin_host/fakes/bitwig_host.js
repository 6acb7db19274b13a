// A recording stand-in for Bitwig Studio's controller `host`, for running a controller script
// under node. Usage: node bitwig_host.js SCRIPT SCENARIO_JSON. Prints a JSON array of every
// API call as [name, ...args]. The scenario sets up the project and lists steps:
//   {"settings": {"prompt", "stems", "bars"}, "transport": {"tempo", "numerator",
//    "denominator", "position"}, "tracks": n, "createTracks": true,
//    "steps": [{"signal": "Generate"} | {"reply": [address, args...]} | {"runTasks": true}]}
// In a reply, the string "$job" stands for the id of the last /stemloom/generate request.
// A setting's scenario key is the first word of its label, in lower case ("Bars (0: ...)" is
// "bars").
"use strict";

const fs = require("fs");
const vm = require("vm");

const [scriptPath, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);
const calls = [];
const record = (name, ...args) => calls.push([name, ...args]);

const value = (name, initial) => {
  let current = initial;
  return {
    markInterested: () => record(name + ".markInterested"),
    get: () => current,
    getRaw: () => current,
    set: (next) => { record(name + ".set", next); current = next; },
  };
};

const setting = (label) => (scenario.settings || {})[label.split(" ")[0].toLowerCase()];
const signals = {};
const documentState = {
  getStringSetting: (label, category, chars, initial) => {
    record("getStringSetting", label, category, chars, initial);
    const given = setting(label);
    return value("setting:" + label, given === undefined ? initial : given);
  },
  getNumberSetting: (label, category, min, max, step, unit, initial) => {
    record("getNumberSetting", label, category, min, max, step, unit, initial);
    const given = setting(label);
    return value("setting:" + label, given === undefined ? initial : given);
  },
  getSignalSetting: (label, category, action) => {
    record("getSignalSetting", label, category, action);
    return { addSignalObserver: (callback) => { signals[label] = callback; } };
  },
};

const t = scenario.transport || {};
const transport = {
  tempo: () => ({ value: () => value("tempo", t.tempo === undefined ? 120 : t.tempo) }),
  timeSignature: () => ({
    numerator: () => value("numerator", t.numerator || 4),
    denominator: () => value("denominator", t.denominator || 4),
  }),
  getPosition: () => value("position", t.position || 0),
};

let tracks = [];
for (let i = 0; i < (scenario.tracks || 0); i++) tracks.push({});
const trackProxy = (index) => ({
  name: () => ({ set: (name) => record("Track.name.set", index, name) }),
  clipLauncherSlotBank: () => ({
    getItemAt: (slot) => ({
      replaceInsertionPoint: () => ({
        insertFile: (path) => record("InsertionPoint.insertFile", index, slot, path),
      }),
    }),
  }),
  deleteObject: () => { record("Track.deleteObject", index); tracks.splice(index, 1); },
});

const application = {
  createAudioTrack: (position) => {
    record("Application.createAudioTrack", position);
    if (scenario.createTracks !== false) tracks.splice(position, 0, {});
  },
};

let replyHandler = null;
let lastJob = null;
const tasks = [];

const host = {
  setShouldFailOnDeprecatedUse: (flag) => record("setShouldFailOnDeprecatedUse", flag),
  defineController: (...args) => record("defineController", ...args),
  defineMidiPorts: (...args) => record("defineMidiPorts", ...args),
  getDocumentState: () => documentState,
  createTransport: () => transport,
  createApplication: () => application,
  createMainTrackBank: (count, sends, scenes) => {
    record("createMainTrackBank", count, sends, scenes);
    return {
      itemCount: () => ({ markInterested: () => {}, get: () => tracks.length }),
      getItemAt: (index) => trackProxy(index),
    };
  },
  getOscModule: () => ({
    createAddressSpace: () => ({
      registerDefaultMethod: (callback) => { replyHandler = callback; },
    }),
    createUdpServer: (port) => record("OscModule.createUdpServer", port),
    connectToUdpServer: (address, port, space) => {
      record("OscModule.connectToUdpServer", address, port, space);
      return {
        sendMessage: (oscAddress, ...args) => {
          record("OscConnection.sendMessage", oscAddress, ...args);
          if (oscAddress === "/stemloom/generate") lastJob = args[0];
        },
      };
    },
  }),
  scheduleTask: (callback, delay) => { record("scheduleTask", delay); tasks.push(callback); },
  showPopupNotification: (text) => record("showPopupNotification", text),
  println: (text) => record("println", text),
};

const context = vm.createContext({
  host,
  loadAPI: (version) => record("loadAPI", version),
  Date, Math, String, JSON,
});
vm.runInContext(fs.readFileSync(scriptPath, "utf8"), context, { filename: scriptPath });
context.init();

for (const step of scenario.steps || []) {
  if (step.signal) {
    signals[step.signal]();
  } else if (step.reply) {
    const [address, ...args] = step.reply.map((arg) => (arg === "$job" ? lastJob : arg));
    replyHandler(null, {
      getAddressPattern: () => address,
      getArguments: () => ({ size: () => args.length, get: (i) => args[i] }),
    });
  } else if (step.runTasks) {
    for (let n = 0; tasks.length && n < 100; n++) tasks.shift()();
  }
}
process.stdout.write(JSON.stringify(calls));
