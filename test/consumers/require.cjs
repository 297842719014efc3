// A CommonJS project: require() loads the ES module build (Node 20.19+ and 22.12+).
const { gather, sleep } = require('skein');
const { main } = require('skein/node');
const { Board } = require('skein/board');

gather([async (signal) => { await sleep(1, { signal }); return 'a'; }, async () => 'b']).then((values) => {
  console.log(JSON.stringify({ gather: values, main: typeof main, board: typeof Board }));
});
