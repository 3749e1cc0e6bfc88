/**
 * The script of a compiled AutoIt EA06 file (the entry named `>>>AUTOIT SCRIPT<<<`), turned back
 * into source text from its tokens, byte for byte as ClamAV 1.4 writes it.
 *
 * In: the entry's bytes after decryption and unpacking (a 32-bit line count, then tokens: an op
 * byte and its operand), and a cap on the text kept. Out: the text, or only its size when it is
 * over the cap (the engine would refuse it for MaxFileSize anyway).
 *
 * Why this shape: ClamAV prints each token followed by a space: keywords and built-in functions
 * from its tables (by 32-bit index), 32-bit and 64-bit integers in hexadecimal (`0x%08x`,
 * `0x%016lx`, the 64-bit one the sum of its high half shifted and its low half read as signed), doubles as C's `%g`, and the named tokens (macros `@`, variables `$`, user
 * functions with no space after, object members `.`, strings between double quotes with no
 * escaping, the others bare) from UTF-16 code units XORed with their count and then narrowed by
 * its UTF-16 guess (`u2a`, which keeps the raw bytes when the text does not look like UTF-16, and
 * drops a byte-order mark). Operators come from a table; 0x7f ends a line and counts it down; the
 * text ends when the count reaches zero or the bytes run out. Its bounds checks need one byte more
 * than the operand (an operand ending exactly at the end of the data is damage). Damage — an
 * unknown op, an index past a table, an operand past the end, a string whose doubled length wraps
 * to a small number, output past 1 GiB — stops the text where it was; what came before is kept.
 */

/** ClamAV's table of AutoIt built-in functions (indexes of op 0x01). */
export const AUTOIT_FUNCTIONS: readonly string[] = (
  'ABS ACOS ADLIBREGISTER ADLIBUNREGISTER ASC ASCW ASIN ASSIGN ATAN AUTOITSETOPTION AUTOITWINGETTITLE ' +
  'AUTOITWINSETTITLE BEEP BINARY BINARYLEN BINARYMID BINARYTOSTRING BITAND BITNOT BITOR BITROTATE BITSHIFT ' +
  'BITXOR BLOCKINPUT BREAK CALL CDTRAY CEILING CHR CHRW CLIPGET CLIPPUT CONSOLEREAD CONSOLEWRITE ' +
  'CONSOLEWRITEERROR CONTROLCLICK CONTROLCOMMAND CONTROLDISABLE CONTROLENABLE CONTROLFOCUS CONTROLGETFOCUS ' +
  'CONTROLGETHANDLE CONTROLGETPOS CONTROLGETTEXT CONTROLHIDE CONTROLLISTVIEW CONTROLMOVE CONTROLSEND ' +
  'CONTROLSETTEXT CONTROLSHOW CONTROLTREEVIEW COS DEC DIRCOPY DIRCREATE DIRGETSIZE DIRMOVE DIRREMOVE DLLCALL ' +
  'DLLCALLADDRESS DLLCALLBACKFREE DLLCALLBACKGETPTR DLLCALLBACKREGISTER DLLCLOSE DLLOPEN DLLSTRUCTCREATE ' +
  'DLLSTRUCTGETDATA DLLSTRUCTGETPTR DLLSTRUCTGETSIZE DLLSTRUCTSETDATA DRIVEGETDRIVE DRIVEGETFILESYSTEM ' +
  'DRIVEGETLABEL DRIVEGETSERIAL DRIVEGETTYPE DRIVEMAPADD DRIVEMAPDEL DRIVEMAPGET DRIVESETLABEL DRIVESPACEFREE ' +
  'DRIVESPACETOTAL DRIVESTATUS DUMMYSPEEDTEST ENVGET ENVSET ENVUPDATE EVAL EXECUTE EXP FILECHANGEDIR FILECLOSE ' +
  'FILECOPY FILECREATENTFSLINK FILECREATESHORTCUT FILEDELETE FILEEXISTS FILEFINDFIRSTFILE FILEFINDNEXTFILE ' +
  'FILEFLUSH FILEGETATTRIB FILEGETENCODING FILEGETLONGNAME FILEGETPOS FILEGETSHORTCUT FILEGETSHORTNAME ' +
  'FILEGETSIZE FILEGETTIME FILEGETVERSION FILEINSTALL FILEMOVE FILEOPEN FILEOPENDIALOG FILEREAD FILEREADLINE ' +
  'FILEREADTOARRAY FILERECYCLE FILERECYCLEEMPTY FILESAVEDIALOG FILESELECTFOLDER FILESETATTRIB FILESETEND ' +
  'FILESETPOS FILESETTIME FILEWRITE FILEWRITELINE FLOOR FTPSETPROXY FUNCNAME GUICREATE GUICTRLCREATEAVI ' +
  'GUICTRLCREATEBUTTON GUICTRLCREATECHECKBOX GUICTRLCREATECOMBO GUICTRLCREATECONTEXTMENU GUICTRLCREATEDATE ' +
  'GUICTRLCREATEDUMMY GUICTRLCREATEEDIT GUICTRLCREATEGRAPHIC GUICTRLCREATEGROUP GUICTRLCREATEICON ' +
  'GUICTRLCREATEINPUT GUICTRLCREATELABEL GUICTRLCREATELIST GUICTRLCREATELISTVIEW GUICTRLCREATELISTVIEWITEM ' +
  'GUICTRLCREATEMENU GUICTRLCREATEMENUITEM GUICTRLCREATEMONTHCAL GUICTRLCREATEOBJ GUICTRLCREATEPIC ' +
  'GUICTRLCREATEPROGRESS GUICTRLCREATERADIO GUICTRLCREATESLIDER GUICTRLCREATETAB GUICTRLCREATETABITEM ' +
  'GUICTRLCREATETREEVIEW GUICTRLCREATETREEVIEWITEM GUICTRLCREATEUPDOWN GUICTRLDELETE GUICTRLGETHANDLE ' +
  'GUICTRLGETSTATE GUICTRLREAD GUICTRLRECVMSG GUICTRLREGISTERLISTVIEWSORT GUICTRLSENDMSG GUICTRLSENDTODUMMY ' +
  'GUICTRLSETBKCOLOR GUICTRLSETCOLOR GUICTRLSETCURSOR GUICTRLSETDATA GUICTRLSETDEFBKCOLOR GUICTRLSETDEFCOLOR ' +
  'GUICTRLSETFONT GUICTRLSETGRAPHIC GUICTRLSETIMAGE GUICTRLSETLIMIT GUICTRLSETONEVENT GUICTRLSETPOS ' +
  'GUICTRLSETRESIZING GUICTRLSETSTATE GUICTRLSETSTYLE GUICTRLSETTIP GUIDELETE GUIGETCURSORINFO GUIGETMSG ' +
  'GUIGETSTYLE GUIREGISTERMSG GUISETACCELERATORS GUISETBKCOLOR GUISETCOORD GUISETCURSOR GUISETFONT GUISETHELP ' +
  'GUISETICON GUISETONEVENT GUISETSTATE GUISETSTYLE GUISTARTGROUP GUISWITCH HEX HOTKEYSET HTTPSETPROXY ' +
  'HTTPSETUSERAGENT HWND INETCLOSE INETGET INETGETINFO INETGETSIZE INETREAD INIDELETE INIREAD INIREADSECTION ' +
  'INIREADSECTIONNAMES INIRENAMESECTION INIWRITE INIWRITESECTION INPUTBOX INT ISADMIN ISARRAY ISBINARY ISBOOL ' +
  'ISDECLARED ISDLLSTRUCT ISFLOAT ISFUNC ISHWND ISINT ISKEYWORD ISMAP ISNUMBER ISOBJ ISPTR ISSTRING LOG ' +
  'MAPAPPEND MAPEXISTS MAPKEYS MAPREMOVE MEMGETSTATS MOD MOUSECLICK MOUSECLICKDRAG MOUSEDOWN MOUSEGETCURSOR ' +
  'MOUSEGETPOS MOUSEMOVE MOUSEUP MOUSEWHEEL MSGBOX NUMBER OBJCREATE OBJCREATEINTERFACE OBJEVENT OBJGET OBJNAME ' +
  'ONAUTOITEXITREGISTER ONAUTOITEXITUNREGISTER OPT PING PIXELCHECKSUM PIXELGETCOLOR PIXELSEARCH PROCESSCLOSE ' +
  'PROCESSEXISTS PROCESSGETSTATS PROCESSLIST PROCESSSETPRIORITY PROCESSWAIT PROCESSWAITCLOSE PROGRESSOFF ' +
  'PROGRESSON PROGRESSSET PTR RANDOM REGDELETE REGENUMKEY REGENUMVAL REGREAD REGWRITE ROUND RUN RUNAS RUNASWAIT ' +
  'RUNWAIT SEND SENDKEEPACTIVE SETERROR SETEXTENDED SHELLEXECUTE SHELLEXECUTEWAIT SHUTDOWN SIN SLEEP SOUNDPLAY ' +
  'SOUNDSETWAVEVOLUME SPLASHIMAGEON SPLASHOFF SPLASHTEXTON SQRT SRANDOM STATUSBARGETTEXT STDERRREAD STDINWRITE ' +
  'STDIOCLOSE STDOUTREAD STRING STRINGADDCR STRINGCOMPARE STRINGFORMAT STRINGFROMASCIIARRAY STRINGINSTR ' +
  'STRINGISALNUM STRINGISALPHA STRINGISASCII STRINGISDIGIT STRINGISFLOAT STRINGISINT STRINGISLOWER STRINGISSPACE ' +
  'STRINGISUPPER STRINGISXDIGIT STRINGLEFT STRINGLEN STRINGLOWER STRINGMID STRINGREGEXP STRINGREGEXPREPLACE ' +
  'STRINGREPLACE STRINGREVERSE STRINGRIGHT STRINGSPLIT STRINGSTRIPCR STRINGSTRIPWS STRINGTOASCIIARRAY ' +
  'STRINGTOBINARY STRINGTRIMLEFT STRINGTRIMRIGHT STRINGUPPER TAN TCPACCEPT TCPCLOSESOCKET TCPCONNECT TCPLISTEN ' +
  'TCPNAMETOIP TCPRECV TCPSEND TCPSHUTDOWN TCPSTARTUP TIMERDIFF TIMERINIT TOOLTIP TRAYCREATEITEM TRAYCREATEMENU ' +
  'TRAYGETMSG TRAYITEMDELETE TRAYITEMGETHANDLE TRAYITEMGETSTATE TRAYITEMGETTEXT TRAYITEMSETONEVENT ' +
  'TRAYITEMSETSTATE TRAYITEMSETTEXT TRAYSETCLICK TRAYSETICON TRAYSETONEVENT TRAYSETPAUSEICON TRAYSETSTATE ' +
  'TRAYSETTOOLTIP TRAYTIP UBOUND UDPBIND UDPCLOSESOCKET UDPOPEN UDPRECV UDPSEND UDPSHUTDOWN UDPSTARTUP ' +
  'VARGETTYPE WINACTIVATE WINACTIVE WINCLOSE WINEXISTS WINFLASH WINGETCARETPOS WINGETCLASSLIST WINGETCLIENTSIZE ' +
  'WINGETHANDLE WINGETPOS WINGETPROCESS WINGETSTATE WINGETTEXT WINGETTITLE WINKILL WINLIST WINMENUSELECTITEM ' +
  'WINMINIMIZEALL WINMINIMIZEALLUNDO WINMOVE WINSETONTOP WINSETSTATE WINSETTITLE WINSETTRANS WINWAIT ' +
  'WINWAITACTIVE WINWAITCLOSE WINWAITNOTACTIVE'
).split(' ');

/** ClamAV's table of AutoIt keywords (indexes of op 0x00). */
export const AUTOIT_KEYWORDS: readonly string[] = (
  'UNKNOWN_0 AND OR NOT IF THEN ELSE ELSEIF ENDIF WHILE WEND DO UNTIL FOR NEXT TO STEP IN EXITLOOP CONTINUELOOP ' +
  'SELECT CASE ENDSELECT SWITCH ENDSWITCH CONTINUECASE DIM REDIM LOCAL GLOBAL CONST STATIC FUNC ENDFUNC RETURN EXIT ' +
  'BYREF WITH ENDWITH TRUE FALSE DEFAULT NULL VOLATILE ENUM'
).split(' ');

/** Operators, ops 0x40..0x58. */
export const AUTOIT_OPERATORS: readonly string[] = [',', '=', '>', '<', '<>', '>=', '<=', '(', ')', '+', '-', '/', '*', '&', '[', ']', '==', '^', '+=', '-=', '/=', '*=', '&=', '?', ':'];

/** The character written before a named token (ops 0x30..0x37), 0 for none. */
const PREFIX = [0, 0, 0x40, 0x24, 0, 0x2e, 0x22, 0];

/** Token ops. */
export const OP = {
  keyword: 0x00, function: 0x01, int32: 0x05, int64: 0x10, double: 0x20,
  construct: 0x30, command: 0x31, macro: 0x32, variable: 0x33, userFunction: 0x34, object: 0x35, string: 0x36, directive: 0x37,
  operator: 0x40, lineEnd: 0x7f,
} as const;

/** ClamAV's allocation ceiling (a growing output buffer past it is damage). */
const MAX_ALLOCATION = 1024 * 1024 * 1024;

/** A double as C's `printf("%g")` prints it (glibc: the exact binary value, ties to even). */
export function formatG(x: number): string {
  const neg = x < 0 || Object.is(x, -0);
  if (Number.isNaN(x)) {
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, x);
    return v.getUint8(0) & 0x80 ? '-nan' : 'nan';
  }
  const sign = neg ? '-' : '';
  if (!Number.isFinite(x)) return `${sign}inf`;
  if (x === 0) return `${sign}0`;
  const [head, sci] = Math.abs(x) >= 1e-6 && Math.abs(x) < 1e24 ? roundExact(Math.abs(x)) : roundFar(Math.abs(x));
  let body: string;
  if (sci < -4 || sci >= 6) {
    let frac = head.slice(1).replace(/0+$/, '');
    if (frac) frac = `.${frac}`;
    const ae = Math.abs(sci);
    body = `${head[0]}${frac}e${sci < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  } else if (sci >= 0) {
    const int = head.slice(0, sci + 1);
    const frac = head.slice(sci + 1).replace(/0+$/, '');
    body = frac ? `${int}.${frac}` : int;
  } else {
    const frac = ('0'.repeat(-sci - 1) + head).replace(/0+$/, '');
    body = `0.${frac}`;
  }
  return sign + body;
}

/**
 * Six significant digits of `x` (> 0) and the exponent of the first, from its exact decimal value,
 * ties to even. Used where a tie is possible: only values from 1e-5 to 1e23 can sit exactly
 * halfway between two 6-digit decimals.
 */
function roundExact(x: number): [string, number] {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const hi = v.getUint32(0), lo = v.getUint32(4);
  const biased = hi >>> 20;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (biased === 0) e2 = -1074;
  else { mant |= 1n << 52n; e2 = biased - 1075; }
  // The exact value as a decimal digit string times 10^exp10.
  let digits: string, exp10: number;
  if (e2 >= 0) { digits = (mant << BigInt(e2)).toString(); exp10 = 0; }
  else { digits = (mant * 5n ** BigInt(-e2)).toString(); exp10 = e2; }
  let sci = digits.length - 1 + exp10;
  let head = digits.slice(0, 6).padEnd(6, '0');
  const rest = digits.slice(6);
  if (rest.length > 0) {
    const first = rest.charCodeAt(0) - 48;
    const beyond = /[1-9]/.test(rest.slice(1));
    const odd = (head.charCodeAt(5) - 48) & 1;
    if (first > 5 || (first === 5 && (beyond || odd))) {
      let n = String(Number(head) + 1);
      if (n.length > 6) { n = n.slice(0, 6); sci++; }
      head = n;
    }
  }
  return [head, sci];
}

/** As `roundExact`, for values that cannot be ties: the correctly rounded `toExponential`. */
function roundFar(x: number): [string, number] {
  const t = x.toExponential(5); // d.ddddde±X
  const e = t.indexOf('e');
  return [t[0]! + t.slice(2, e), Number(t.slice(e + 1))];
}

/**
 * ClamAV's guess at UTF-16 text, in place on `b[at..at+len)`: with a byte-order mark the low bytes
 * after it, else the low bytes when at least a quarter of the first 20 bytes' pairs look like
 * ASCII in UTF-16; otherwise the bytes are left as they are.
 */
export function u2a(b: Uint8Array, at: number, len: number): void {
  if (len < 2) return;
  let src = at;
  let n = len;
  if (len > 4 && b[at] === 0xff && b[at + 1] === 0xfe && b[at + 2] !== 0) {
    n -= 2;
    src += 2;
  } else {
    const j = len > 20 ? 20 : len & ~1;
    let cnt = 0;
    for (let i = 0; i < j; i += 2) if (b[at + i] !== 0 && b[at + i + 1] === 0) cnt++;
    if (cnt * 4 < j) return;
  }
  let d = at;
  for (let i = 0; i < n; i += 2) b[d++] = b[src + i]!;
}

export interface DecompiledScript {
  /** The text, unless it is longer than the cap given. */
  data?: Uint8Array;
  /** The text's length. */
  size: number;
}

/**
 * Decompiles an EA06 script entry (`buf`, modified: its strings are decoded in place) as ClamAV
 * does; text past `cap` bytes is only counted.
 */
export function decompileEa06Script(buf: Uint8Array, cap: number): DecompiledScript {
  const usize = buf.length;
  let out = new Uint8Array(Math.min(Math.max(usize, 64), cap, 1 << 20));
  let len = 0;
  let csize = usize; // ClamAV's buffer size, for its allocation ceiling
  let error = false;
  const grow = (need: number, by: number): void => {
    if (need >= csize) {
      csize += by;
      if (csize > MAX_ALLOCATION) error = true;
    }
  };
  const ensure = (n: number): boolean => {
    if (len + n > cap) return false;
    if (len + n > out.length) {
      const next = new Uint8Array(Math.min(cap, Math.max(len + n, out.length * 2)));
      next.set(out.subarray(0, len));
      out = next;
    }
    return true;
  };
  const putAscii = (s: string): void => {
    if (ensure(s.length)) for (let i = 0; i < s.length; i++) out[len + i] = s.charCodeAt(i);
    len += s.length;
  };
  const putByte = (c: number): void => {
    if (ensure(1)) out[len] = c;
    len++;
  };
  const rd32 = (at: number): number => (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
  const hex = (v: number, w: number): string => v.toString(16).padStart(w, '0');
  const f64 = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

  let lines = usize >= 4 ? rd32(0) : 0;
  let pos = 4;
  while (!error && lines !== 0 && pos < usize) {
    const op = buf[pos++]!;
    if (op === OP.keyword || op === OP.function) {
      if (pos >= usize - 4) { error = true; break; }
      const table = op === OP.keyword ? AUTOIT_KEYWORDS : AUTOIT_FUNCTIONS;
      const id = rd32(pos);
      if (id >= table.length) { error = true; break; }
      pos += 4;
      const word = table[id]!;
      grow(len + word.length + 2, 512);
      if (error) break;
      putAscii(`${word} `);
    } else if (op === OP.int32) {
      if (pos >= usize - 4) { error = true; break; }
      grow(len + 12, 512);
      if (error) break;
      putAscii(`0x${hex(rd32(pos), 8)} `);
      pos += 4;
    } else if (op === OP.int64 || op === OP.double) {
      if (usize < 8 || pos >= usize - 8) { error = true; break; }
      grow(len + (op === OP.int64 ? 20 : 40), 512);
      if (error) break;
      // ClamAV reads both halves as signed 32-bit numbers: a low half with its top bit set takes
      // one from the high half.
      if (op === OP.int64) {
        const low = rd32(pos);
        putAscii(`0x${hex((rd32(pos + 4) - (low >>> 31)) >>> 0, 8)}${hex(low, 8)} `);
      }
      else {
        // A NaN's sign is read from its bytes (a number may not keep it).
        const x = f64.getFloat64(pos, true);
        putAscii(`${Number.isNaN(x) ? (buf[pos + 7]! & 0x80 ? '-nan' : 'nan') : formatG(x)} `);
      }
      pos += 8;
    } else if (op >= OP.construct && op <= OP.directive) {
      if (pos >= usize - 4) { error = true; break; }
      const chars = rd32(pos);
      const dchars = (chars * 2) >>> 0;
      pos += 4;
      if (usize < dchars || pos >= usize - dchars) { error = true; break; }
      // 32-bit sums, as ClamAV computes them.
      if (((len + chars + 3) >>> 0) >= csize) {
        csize = (csize + chars + 512) >>> 0;
        if (csize > MAX_ALLOCATION) { error = true; break; }
      }
      const prefix = PREFIX[op - OP.construct]!;
      if (prefix) putByte(prefix);
      if (chars) {
        const k0 = chars & 0xff, k1 = (chars >>> 8) & 0xff;
        for (let i = 0; i < dchars; i += 2) {
          buf[pos + i] = buf[pos + i]! ^ k0;
          buf[pos + i + 1] = buf[pos + i + 1]! ^ k1;
        }
        u2a(buf, pos, dchars);
        if (ensure(chars)) out.set(buf.subarray(pos, pos + chars), len);
        len += chars;
        pos += dchars;
      }
      if (op === OP.string) putByte(0x22);
      if (op !== OP.userFunction) putByte(0x20);
    } else if (op >= OP.operator && op < OP.operator + AUTOIT_OPERATORS.length) {
      grow(len + 4, 512);
      if (error) break;
      putAscii(`${AUTOIT_OPERATORS[op - OP.operator]!} `);
    } else if (op === OP.lineEnd) {
      lines = (lines - 1) >>> 0;
      grow(len + 1, 512);
      if (error) break;
      putByte(0x0a);
    } else {
      error = true;
    }
  }
  return len <= cap ? { data: out.subarray(0, len), size: len } : { size: len };
}
