// The command line every driver here shares: node <driver>.js <part> '<json args>'
// runs parts[part](args) and prints {"part", "log", "result"} as one JSON line.
'use strict';

module.exports = function runPart(parts, log) {
  const [part, raw] = process.argv.slice(2);
  Promise.resolve()
    .then(() => parts[part](JSON.parse(raw || '{}')))
    .then((result) => {
      process.stdout.write(JSON.stringify({ part, log, result: result || null }) + '\n');
    })
    .catch((e) => {
      process.stderr.write(`${e.stack || e}\n`);
      process.exit(1);
    });
};
