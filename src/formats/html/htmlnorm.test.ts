import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseHtml, cssImages } from './htmlnorm.js';
import { normaliseJs, jsUnescape } from './jsnorm.js';
import { screncEncode } from './screnc-encode.js';
import { htmlNormalise, htmlUtf16Squeeze } from './index.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const str = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString('latin1') : undefined);
const norm = (s: string) => {
  const o = normaliseHtml(enc(s));
  return { nocomment: str(o.nocomment), notags: str(o.notags), javascript: str(o.javascript), rfc2397: o.rfc2397.map((r) => str(r.data)), images: o.styleImages };
};

// Expected outputs below are the files clamscan 1.4.6 writes with --leave-temps for the same input.

test('entities, case and whitespace', () => {
  const o = norm('<HTML><TITLE>Hello &amp; World</TITLE>\n<BODY>Some   Text &lt;b&gt; &#65;&#x42; &eacute; &Kcy; &unknown; done</BODY></HTML>\n');
  assert.equal(o.nocomment, '<html><title>hello & world</title><body>some text <b> ab \xe9 &#x041a; &unknown; done</body></html>');
  assert.equal(o.notags, ' hello world some text b done ');
});

test('comments are removed from nocomment, kept out of notags', () => {
  const o = norm('<html><p>gannet<!-- junk here -->puffin</p>');
  assert.equal(o.nocomment, '<html><p>gannetpuffin</p>');
  assert.equal(o.notags, ' gannet puffin ');
});

test('links and images add their targets to notags; attributes are re-quoted', () => {
  const o = norm(`<a href="HTTP://X.com/A">x</a> <img src='Y.PNG' ALT=z>`);
  assert.equal(o.nocomment, '<a href="http://x.com/a">x</a><img src="y.png" alt=z>');
  // The last tag is never processed: a tag is acted on at the character after it.
  assert.equal(o.notags, ' HTTP://X.com/A x ');
});

test('scripts: kept without whitespace in nocomment, normalised into javascript', () => {
  const o = norm('<html><script language="javascript">\nvar Foo = "abc" + \'def\';\nfunction bar(x, y) { var z = x + y; return document.write(unescape("%41%42")); }\neval("alert(\'hi\')");\n</script></html>');
  assert.equal(o.nocomment, '<html><script language="javascript">varfoo="abc"+"def";functionbar(x,y){varz=x+y;returndocument.write(unescape("%41%42"));}eval("alert("hi")");</script></html>');
  assert.equal(o.javascript, '<script>var n000="abcdef";function n001(n002,n003){var n004=n002+n003;return document.write("ab");}alert("hi")</script>');
  assert.equal(o.notags, ' ');
});

test('JScript.Encode blocks are decoded', () => {
  const script = 'var Secret = "EncodedPayload";\ndocument.write("<b>" + Secret + "</b>");\n';
  const o = norm(`<html><body>\n<SCRIPT LANGUAGE="JScript.Encode">${screncEncode(script)}</SCRIPT>\n<p>after</p></body></html>\n`);
  assert.equal(o.nocomment, '<html><body><script language="jscript.encode"><script language="javascript">varsecret="encodedpayload";document.write("<b>"+secret+"</b>");</script><p>after</p></body></html>');
  assert.equal(o.javascript, '<script>var n000="encodedpayload";document.write("<b>"+n000+"</b>");</script>');
});

test('VBScript.Encode after <%@ language %> is decoded where the marker is found', () => {
  const o = norm(`<%@ LANGUAGE = "VBScript.Encode" %>\n<html>\n<%${screncEncode('Response.Write "Hello Encoded World"\r\nx = 1 @ 2')}%>\n</html>\n`);
  assert.ok(o.nocomment?.endsWith('</html>response.write "hello encoded world" x = 1 @ 2%> </html>'), o.nocomment);
});

test('data: URIs become small mail messages; style images are decoded', () => {
  const o = norm('<img src="data:text/plain;base64,SGVsbG8gV29ybGQ="><style> body { background: url(data:image/gif;base64,R0lGODlhAQABAAAAACw=) } </style>');
  assert.deepEqual(o.rfc2397, ['From html-normalise\nContent-type: text/plain;base64\nContent-transfer-encoding: base64\n\nSGVsbG8gV29ybGQ=']);
  assert.equal(o.images.length, 1);
  assert.equal(Buffer.from(o.images[0]!).toString('latin1'), 'GIF89a\x01\x00\x01\x00\x00\x00\x00,');
  const pct = norm('<img src=data:text/plain,Hi%41%4>');
  assert.deepEqual(pct.rfc2397, ['From html-normalise\nContent-type: text/plain\n\nHiA']);
});

test('an unquoted data: URI runs into the next tag, whose attributes become its own', () => {
  const o = norm('<html><img src=data:;base64,QUJD> <img src="DATA:text/plain,upper"> <p>');
  assert.equal(o.nocomment, '<html><img src=data<img src="data:text/plain,upper"><p>');
  assert.equal(o.notags, ' DATA:text/plain,upper ');
  assert.deepEqual(o.rfc2397, ['From html-normalise\nContent-type: ;base64\nContent-transfer-encoding: base64\n\nQUJD']);
});

test('css images: stops at the first invalid base64, skips other urls', () => {
  assert.equal(cssImages('a{b:url(x.png)} c{d:url( "data:image/png;base64,QUJD" )}').length, 1);
  assert.equal(cssImages('a{b:url(data:x;base64,QUJ)} c{d:url(data:x;base64,QUJD)}').length, 0);
});

test('NUL bytes are dropped, 8-bit sequences and numeric references as ClamAV writes them', () => {
  const o = norm('<html>\x00<b>nul\x00ls</b>\xe3\x80\x82 caf\xc3\xa9 <p title=\'x\' class=y data=1>&#0;&#x110000;&#99999999999999999999999;&#x;&amp</p>');
  assert.equal(o.nocomment, '<html><b>nulls</b>. caf\xc3\xa9 <p title="x" class=y data=1>\x00\xff9999;\x00&amp</p>');
  assert.equal(o.notags, ' nulls .caf\xc3\xc3 9999; ');
});

test('javascript normaliser: numbers, member names, comments, string folding', () => {
  const out = str(normaliseJs(enc('x = 12345678901 + 1.5e3 + 0.000012 + 3.25; o.Prop.Name = \'It\\\'s\'; /* gone */ y = "a" + "b" + "c"; // tail\n')));
  assert.equal(out, '<script>x=-539222987+1500+1.2e-05+3.25;o.prop.name="it\'s";y="abc";tail</script>');
  assert.equal(jsUnescape('%u0041%42%zz'), 'AB%zz');
});

test('javascript normaliser: the packer is decoded', () => {
  const packed = "eval(function(p,a,c,k,e,d){e=function(c){return c};if(!''.replace(/^/,String)){while(c--){d[c]=k[c]||c}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};while(c--){if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}('3 0=\\'1 2\\';4(0);',5,5,'msg|packed|payload|var|alert'.split('|'),0,{}))";
  const o = norm(`<html><script>${packed}\n</script></html>`);
  assert.ok(o.javascript?.includes('(var n008="packed payload";alert(n008);)'), o.javascript);
});

test('chunks of 8 KiB are cut at whitespace and scripts span them', () => {
  const filler = 'word '.repeat(3000);
  const o = norm(`<html>${filler}<script>var a = "x";\n${'b = a; '.repeat(2000)}</script>${filler}</html>`);
  assert.ok(o.javascript?.startsWith('<script>var n000="x";b=n000;b=n000;'));
  assert.ok(o.javascript?.endsWith('b=n000;</script>'));
  assert.equal(o.notags?.length, 2 + 2 * 3000 * 5 - 1);
});

test('limits: MaxHTMLNormalize skips everything, MaxHTMLNoTags drops notags', () => {
  const page = enc('<html><b>text</b></html>');
  assert.deepEqual(htmlNormalise(page, { maxHtmlNormalize: 10 }), { rfc2397: [], styleImages: [] });
  const o = htmlNormalise(page, { maxHtmlNoTags: 10 });
  assert.equal(o.notags, undefined);
  assert.equal(str(o.nocomment), '<html><b>text</b></html>');
});

test('UTF-16 squeeze', () => {
  const wide = Buffer.from('<html>', 'utf16le');
  assert.equal(str(htmlUtf16Squeeze(Uint8Array.from([...wide, 0x41]))), '<html>');
});

test('hostile input: truncations and mutations never throw and stay bounded', () => {
  const base = enc(`<html><script language="JScript.Encode">${screncEncode('var a = "b";\n')}</script><img src="data:text/plain;base64,QUJD"><style>x{y:url(data:a;base64,QUJD)}</style>&#x41;&amp;<!-- c --><script>eval(function(p,a,c,k,e,d){}('0',1,1,'x'.split('|'),0,{}))</script></html>`);
  for (let n = 0; n <= base.length; n++) normaliseHtml(base.subarray(0, n));
  let seed = 12345;
  const rnd = (k: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % k; };
  const started = Date.now();
  for (let i = 0; i < 400; i++) {
    const m = Uint8Array.from(base);
    for (let k = rnd(12) + 1; k > 0; k--) m[rnd(m.length)] = rnd(256);
    const o = normaliseHtml(m);
    assert.ok((o.nocomment?.length ?? 0) <= m.length * 8 + 64);
  }
  assert.ok(Date.now() - started < 20000);
  const junk = new Uint8Array(200000);
  for (let i = 0; i < junk.length; i++) junk[i] = rnd(256);
  normaliseHtml(junk);
});

test('hostile scripts: many folds and decodings stay fast and bounded', () => {
  const started = Date.now();
  const many = normaliseJs(enc('x = ' + 'unescape("%41") + '.repeat(50000) + '"";' + ' eval("y");'.repeat(5000)));
  assert.ok(many.length > 50000);
  // A packer whose one word is huge and used many times: the decoded text is cut at 8 MiB.
  const word = 'w'.repeat(100000);
  const bomb = normaliseJs(enc(`eval(function(p,a,c,k,e,d){}('${'0 '.repeat(2000)}',10,1,'${word}'.split('|'),0,{}))`));
  assert.ok(bomb.length < 12 * 1024 * 1024, String(bomb.length));
  assert.ok(Date.now() - started < 30000);
});
