// compile.js: compiles AlephSync.sol with the pinned solc (solcjs) and
// writes AlephSync.abi and AlephSync.bin. Run by gen.sh (make generate).
'use strict';
const fs = require('fs');
const solc = require('solc');

const input = {
  language: 'Solidity',
  sources: { 'AlephSync.sol': { content: fs.readFileSync('AlephSync.sol', 'utf8') } },
  settings: {
    // paris: no PUSH0, so the bytecode deploys on every EVM chain that
    // carries the sync contract (BSC included) and on geth --dev.
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const c = out.contracts['AlephSync.sol'].AlephSync;
fs.writeFileSync('AlephSync.abi', JSON.stringify(c.abi, null, '\t') + '\n');
fs.writeFileSync('AlephSync.bin', c.evm.bytecode.object + '\n');
console.error('solc ' + solc.version());
