const [name] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const mod = await import(`./scenarios/${name === 'latency' ? 'drain' : name}.mjs`);
console.log(JSON.stringify(await mod[name]({ quick: process.argv.includes('--quick') }), null, 1));
process.exit(0);
