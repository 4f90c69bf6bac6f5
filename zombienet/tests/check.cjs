// Zombienet loads js-scripts with require(); the checks are an ES module (checks.mjs).
module.exports.run = async (nodeName, networkInfo, args) => (await import('./checks.mjs')).run(nodeName, networkInfo, args);
