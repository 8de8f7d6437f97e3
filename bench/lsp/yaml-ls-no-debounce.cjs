// Starts redhat's yaml-language-server exactly as its bin does, except for one thing: it debounces validation by a
// fixed 200 ms (SettingsState.validationDelayMs, not a setting, run through setTimeout). The benchmark takes the
// timer out entirely: each didChange validates at once, as if the debounce had already expired. Without this a
// delay of 0 would still cost a timer tick (Node clamps setTimeout(0) to 1 ms).
const {
  ValidationHandler,
} = require('yaml-language-server/out/server/src/languageserver/handlers/validationHandlers.js');

ValidationHandler.prototype.validate = function validate(textDocument) {
  this.cleanPendingValidation(textDocument);
  void this.validateTextDocument(textDocument);
};
process.env.YAML_LANGUAGE_SERVER_VERSION = require('yaml-language-server/package.json').version;
require('yaml-language-server/out/server/src/server.js');
