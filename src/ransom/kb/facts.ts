/**
 * Facts added to the MISP galaxy for the families victims meet most, where the galaxy is thin
 * (WannaCry has no extension there, Ryuk no note text, Play nothing but links).
 *
 * In: nothing (data). Out: `FACTS`, merged by `importMispGalaxy` into the galaxy entries of the
 * same family (by name, synonym or the listed galaxy names; see `matchKey` in misp.ts).
 * Why: identification and first aid must be right for the families that matter most; each fact
 * carries a public reference in `refs`. What is not confirmed by the reference is marked
 * "unverified" in the marker description or the decryptor prerequisites.
 *
 * Conventions: templates as in patterns.ts (literal brackets, placeholders [ID] [EMAIL] [EXT]
 * [RANDOM:n] [ORIGINAL]); note names with `*`; markers as lower-case hex.
 */
import type { Decryptor, ExtensionPattern, FileMarker } from '../types.js';

export interface FamilyFacts {
  id: string;
  name: string;
  synonyms: string[];
  /** Galaxy entry names that are this family (besides the name and synonyms). */
  galaxyNames?: string[];
  /** Also merge galaxy entries that list one of our names among their synonyms (default true). */
  matchGalaxySynonyms?: boolean;
  extensions: ExtensionPattern[];
  noteNames: string[];
  /** Note texts (our own paraphrase-free templates are not shipped; galaxy notes are merged in). */
  notes?: string[];
  markers: FileMarker[];
  encryption?: string;
  decryptors: Decryptor[];
  refs: string[];
}

const sfx = (...v: string[]): ExtensionPattern[] => v.map((value) => ({ kind: 'suffix', value }));
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

const NMR_TOOLS = 'https://www.nomoreransom.org/en/decryption-tools.html';
const PAIR = 'an encrypted file and its original (at least one pair, often larger than a given size)';
const MTIMES = 'the encrypted files with their modification times untouched (do not copy without preserving times, do not "repair")';
const NOTE = 'the ransom note (it carries the victim id the tool needs)';

export const FACTS: readonly FamilyFacts[] = [
  {
    id: 'wannacry', name: 'WannaCry', synonyms: ['WannaCrypt', 'WanaCrypt0r', 'WCry', 'WCRY', 'Wana Decrypt0r', 'WanaDecryptor'],
    galaxyNames: ['WannaCry'], matchGalaxySynonyms: false,
    extensions: sfx('.wncry', '.wcry', '.wnry', '.wncryt'),
    noteNames: ['@Please_Read_Me@.txt', '@WanaDecryptor@.exe', '@WanaDecryptor@.bmp', '@WanaDecryptor@.exe.lnk'],
    markers: [{ where: 'start', hex: hex('WANACRY!'), offset: 0, description: 'WannaCry encrypted-file header "WANACRY!", followed by the length and the RSA-encrypted AES key' }],
    encryption: 'AES-128-CBC per file, key encrypted with RSA-2048',
    decryptors: [
      { name: 'WanaKiwi', url: 'https://github.com/gentilkiwi/wanakiwi', prerequisites: ['the infected machine not rebooted since the attack (the RSA primes must still be in memory)', 'Windows XP, 2003 or 7 (x86); other versions unverified', 'the ransomware process still running, or its memory not reused'] },
    ],
    refs: ['https://en.wikipedia.org/wiki/WannaCry_ransomware_attack', 'https://www.mandiant.com/resources/blog/wannacry-malware-profile'],
  },
  {
    id: 'stop-djvu', name: 'STOP/Djvu', synonyms: ['STOP', 'Djvu', 'STOP Ransomware', 'STOP (Djvu)'], galaxyNames: ['STOP Ransomware', 'Djvu'],
    extensions: [
      { kind: 'random', length: 4 },
      // Variants seen in victim reports (unverified list; each variant is a 4-letter extension).
      ...sfx('.djvu', '.djvuu', '.udjvu', '.djvuq', '.uudjvu', '.djvur', '.djvus', '.djvut', '.pdff', '.tro', '.tfude', '.tfudeq', '.tfudet', '.rumba', '.adobe', '.promos', '.promoz', '.promock', '.promorad', '.kroput', '.kropun', '.charck', '.klope', '.chech', '.proden', '.drume', '.tronas', '.trosak', '.grovas', '.roland', '.refols', '.raldug', '.etols', '.guvara', '.browec', '.norvas', '.moresa', '.vorasto', '.hrosas', '.kiratos', '.todarius', '.hofos', '.roldat', '.dutan', '.sarut', '.fedasot', '.berost', '.forasom', '.fordan', '.codnat', '.bufas', '.dotmap', '.radman', '.ferosas', '.rectot', '.skymap', '.mogera', '.rezuc', '.stone', '.redmat', '.lanset', '.davda', '.poret', '.pidom', '.pidon', '.heroset', '.boston', '.muslat', '.gerosan', '.vesad', '.horon', '.neras', '.truke', '.dalle', '.lotep', '.nusar', '.litar', '.besub', '.cezor', '.lokas', '.godes', '.budak', '.vusad', '.herad', '.gehad', '.gusau', '.madek', '.darus', '.tocue', '.lapoi', '.todar', '.dodoc', '.bopador', '.novasof', '.ntuseg', '.ndarod', '.nelasod', '.mogranos', '.nvetud', '.lotej', '.kovasoh', '.prandel', '.zatrov', '.masok', '.brusaf', '.londec', '.kharma', '.nakw', '.righ', '.kodg', '.mosk', '.npsk', '.mbed', '.coot', '.derp', '.nols', '.zwer', '.seed', '.mmnn', '.ooss', '.rrcc', '.kkll', '.boop', '.wwty', '.vvoo', '.lloo', '.qqqw', '.eiur', '.yyza', '.zouu', '.bbzz', '.eemv', '.ttza', '.mlza', '.looy'),
    ],
    noteNames: ['_readme.txt', '_openme.txt', '!readme.txt'],
    markers: [{ where: 'end', hex: hex('{36A698B9-D67C-4E07-BE82-0EC5B14B4DF5}'), description: 'STOP/Djvu footer: the victim\'s personal id followed by this GUID at the end of each encrypted file (unverified)' }],
    encryption: 'Salsa20 per file (newer variants), key from an online RSA key or a built-in "offline" key',
    decryptors: [
      { name: 'Emsisoft Decryptor for STOP Djvu', url: 'https://www.emsisoft.com/en/ransomware-decryption/stop-djvu/', prerequisites: ['an "offline key" victim: the personal id in _readme.txt ends in "t1" (online-key victims of variants after August 2019 cannot be decrypted)', 'for variants before August 2019: ' + PAIR, NOTE] },
    ],
    refs: ['https://www.emsisoft.com/en/ransomware-decryption/stop-djvu/', 'https://www.bleepingcomputer.com/news/security/stop-djvu-ransomware-now-encrypts-files-with-the-coot-extension/'],
  },
  {
    id: 'lockbit', name: 'LockBit', synonyms: ['LockBit 2.0', 'LockBit 3.0', 'LockBit Black', 'ABCD ransomware'], galaxyNames: ['LockBit', 'Lockbit3', 'lockbit4', 'lockbit5'],
    extensions: [...sfx('.lockbit', '.abcd'), { kind: 'random', length: 9 }],
    noteNames: ['Restore-My-Files.txt', '*.README.txt'],
    markers: [],
    encryption: 'AES (2.0) / Salsa20 (3.0), keys protected with RSA',
    decryptors: [
      { name: 'LockBit 3.0 decryption tool (Operation Cronos, via No More Ransom)', url: NMR_TOOLS, prerequisites: ['only victims whose keys were seized in February 2024 (ask the police; unverified which builds)', NOTE, 'the encrypted files untouched'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-165a'],
  },
  {
    id: 'conti', name: 'Conti', synonyms: [], galaxyNames: ['Conti'],
    extensions: [...sfx('.conti'), { kind: 'random', length: 5 }],
    noteNames: ['readme.txt', 'CONTI_README.txt', 'R3ADM3.txt', 'CONTI_LOG.txt'],
    markers: [],
    encryption: 'ChaCha20 per file, keys protected with RSA-4096',
    decryptors: [
      { name: 'Kaspersky RakhniDecryptor (keys of a Conti-based strain, 2022)', url: 'https://noransom.kaspersky.com/', prerequisites: ['only the strain whose keys were leaked (unverified which)', PAIR] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-265a'],
  },
  {
    id: 'ryuk', name: 'Ryuk', synonyms: ['Ryuk ransomware'], galaxyNames: ['Ryuk ransomware'],
    extensions: sfx('.ryk', '.ryuk'),
    noteNames: ['RyukReadMe.txt', 'RyukReadMe.html'],
    markers: [{ where: 'end', hex: hex('HERMES'), description: 'the "HERMES" marker before the encrypted key at the end of the file, inherited from Hermes (unverified)' }],
    encryption: 'AES-256 per file, key protected with RSA-2048',
    decryptors: [],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa20-302a', 'https://research.checkpoint.com/2018/ryuk-ransomware-targeted-campaign-break/'],
  },
  {
    id: 'dharma', name: 'Dharma', synonyms: ['CrySiS', 'Crysis', 'Dharma Ransomware'], galaxyNames: ['Dharma Ransomware', 'dharma', 'Crysis XTBL', 'Virus-Encoder'],
    extensions: [
      { kind: 'template', value: '.id-[ID].[[EMAIL]].[EXT]' },
      { kind: 'template', value: '.[[EMAIL]].[EXT]' },
      { kind: 'template', value: '.id-[ID].[EMAIL].xtbl' },
      ...sfx('.dharma', '.wallet', '.arena', '.java', '.cmb', '.bip', '.combo', '.gamma', '.bkp', '.adobe', '.heets', '.harma', '.cezar', '.brrr', '.tron', '.arrow', '.bat', '.xtbl', '.crysis'),
    ],
    noteNames: ['Info.hta', 'FILES ENCRYPTED.txt', 'RETURN FILES.txt', 'README.txt'],
    markers: [],
    encryption: 'AES-256 per file, key protected with RSA-1024',
    decryptors: [
      { name: 'ESET CrySiS decryptor', url: 'https://www.welivesecurity.com/2016/11/24/new-decryption-tool-crysis-ransomware/', prerequisites: ['only older CrySiS/Dharma variants whose master keys were released in 2016-2017', NOTE] },
      { name: 'Kaspersky RakhniDecryptor', url: 'https://noransom.kaspersky.com/', prerequisites: ['only older CrySiS/Dharma variants (released keys)'] },
    ],
    refs: ['https://www.welivesecurity.com/2016/11/24/new-decryption-tool-crysis-ransomware/', 'https://www.malwarebytes.com/blog/news/2019/07/a-deep-dive-into-phobos-ransomware'],
  },
  {
    id: 'phobos', name: 'Phobos', synonyms: ['Phobos Ransomware'], galaxyNames: ['Phobos'], matchGalaxySynonyms: false,
    extensions: [
      { kind: 'template', value: '.id[[ID]-[RANDOM:4]].[[EMAIL]].[EXT]' },
      { kind: 'template', value: '.id[[ID]-[RANDOM:4]].[EMAIL].[EXT]' },
      ...sfx('.phobos', '.eking', '.elbie', '.faust', '.devos', '.eight', '.acuna', '.actin', '.banta', '.makop', '.deal'),
    ],
    noteNames: ['info.hta', 'info.txt'],
    markers: [{ where: 'end', hex: hex('LOCK96'), description: 'Phobos footer marker near the end of each encrypted file (unverified)' }],
    encryption: 'AES-256-CBC per file, key protected with RSA-1024',
    decryptors: [
      { name: 'Phobos/8Base decryptor (Japanese National Police Agency, via No More Ransom, 2025)', url: NMR_TOOLS, prerequisites: ['unverified which variants; check the tool\'s guide', NOTE, 'the encrypted files untouched'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa24-060a', 'https://www.malwarebytes.com/blog/news/2019/07/a-deep-dive-into-phobos-ransomware'],
  },
  {
    id: 'gandcrab', name: 'GandCrab', synonyms: [], galaxyNames: ['GandCrab'],
    extensions: [...sfx('.gdcb', '.crab', '.krab'), { kind: 'random', length: 5 }, { kind: 'random', length: 6 }, { kind: 'random', length: 7 }, { kind: 'random', length: 8 }, { kind: 'random', length: 9 }, { kind: 'random', length: 10 }],
    noteNames: ['GDCB-DECRYPT.txt', 'CRAB-DECRYPT.txt', 'KRAB-DECRYPT.txt', '*-DECRYPT.txt', '*-DECRYPT.html', '*-MANUAL.txt'],
    markers: [],
    encryption: 'Salsa20 (v4+) per file, keys protected with RSA-2048',
    decryptors: [
      { name: 'Bitdefender GandCrab decryptor (via No More Ransom)', url: NMR_TOOLS, prerequisites: ['versions 1, 4 and 5 to 5.2 (final keys released 2019)', NOTE, 'an internet connection for the tool, unverified'] },
    ],
    refs: ['https://www.europol.europa.eu/media-press/newsroom/news/pay-no-more-universal-gandcrab-decryption-tool-released-for-free-no-more-ransom'],
  },
  {
    id: 'revil', name: 'REvil', synonyms: ['Sodinokibi', 'Revil', 'Sodin'], galaxyNames: ['Sodinokibi'],
    extensions: [{ kind: 'random', length: 5 }, { kind: 'random', length: 6 }, { kind: 'random', length: 7 }, { kind: 'random', length: 8 }, { kind: 'random', length: 9 }, { kind: 'random', length: 10 }],
    noteNames: ['*-readme.txt', '*-HOW-TO-DECRYPT.txt'],
    markers: [],
    encryption: 'Salsa20 per file, keys with Curve25519',
    decryptors: [
      { name: 'Bitdefender universal REvil decryptor (via No More Ransom)', url: NMR_TOOLS, prerequisites: ['victims encrypted before 13 July 2021', NOTE] },
    ],
    refs: ['https://en.wikipedia.org/wiki/REvil'],
  },
  {
    id: 'maze', name: 'Maze', synonyms: ['ChaCha ransomware'], galaxyNames: ['Maze'],
    extensions: [{ kind: 'random', length: 6 }, { kind: 'random', length: 7 }, { kind: 'random', length: 8 }],
    noteNames: ['DECRYPT-FILES.txt', 'DECRYPT-FILES.html'],
    markers: [],
    encryption: 'ChaCha20 per file, keys protected with RSA-2048',
    decryptors: [
      { name: 'Emsisoft Maze/Egregor/Sekhmet decryptor (master keys released February 2022)', url: 'https://www.emsisoft.com/en/ransomware-decryption/maze-sekhmet-egregor/', prerequisites: ['the ransom note: it holds the encrypted key the tool decrypts with the master keys', 'unverified: the tool page URL'] },
    ],
    refs: ['https://www.incibe.es/en/incibe-cert/blog/maze-egregor-and-sekhmet-response-and-recovery-actions'],
  },
  {
    id: 'jigsaw', name: 'Jigsaw', synonyms: ['CryptoHitMan', 'BitcoinBlackmailer'], galaxyNames: ['Jigsaw'],
    extensions: sfx('.fun', '.kkk', '.btc', '.gws', '.porno', '.payransom', '.payms', '.paymst', '.paybtcs', '.epic', '.xyz', '.versiegelt', '.encrypted', '.hush', '.afd', '.pay', '.ruby', '.lost', '.choose'),
    noteNames: [],
    markers: [],
    encryption: 'AES with a key built into the sample',
    decryptors: [
      { name: 'Jigsaw decryptor (via No More Ransom)', url: NMR_TOOLS, prerequisites: ['Jigsaw deletes files every hour and on each restart while it runs: end its process first (do not reboot while it runs)', 'unverified which variants'] },
    ],
    refs: ['https://en.wikipedia.org/wiki/Jigsaw_(ransomware)'],
  },
  {
    id: 'xorist', name: 'Xorist', synonyms: ['XORist'], galaxyNames: ['Xorist'],
    extensions: sfx('.encrypted', '.enciphered', '.73i87a', '.p5tkjw', '.6fakbu', '.pas', '.zc3791', '.antihacker2017'),
    noteNames: ['HOW TO DECRYPT FILES.txt', 'КАК РАСШИФРОВАТЬ ФАЙЛЫ.txt'],
    markers: [],
    encryption: 'XOR or TEA with a key built into the sample (builder kit)',
    decryptors: [
      { name: 'Emsisoft Decryptor for Xorist', url: 'https://decrypter.emsisoft.com/xorist', prerequisites: [PAIR] },
      { name: 'Kaspersky XoristDecryptor', url: 'https://noransom.kaspersky.com/', prerequisites: [PAIR] },
    ],
    refs: ['https://decrypter.emsisoft.com/xorist'],
  },
  {
    id: 'teslacrypt', name: 'TeslaCrypt', synonyms: ['AlphaCrypt'], galaxyNames: ['TeslaCrypt 0.x - 2.2.0', 'TeslaCrypt 3.0+', 'TeslaCrypt 4.1A', 'TeslaCrypt 4.2'],
    extensions: sfx('.ecc', '.ezz', '.exx', '.xyz', '.zzz', '.aaa', '.abc', '.ccc', '.vvv', '.xxx', '.ttt', '.micro', '.mp3'),
    noteNames: ['HELP_RESTORE_FILES.txt', 'HELP_TO_DECRYPT_YOUR_FILES.txt', 'help_recover_instructions+*.txt', 'help_recover_instructions+*.html', '_ReCoVeRy_+*.txt', 'Howto_Restore_FILES.TXT', 'RECOVERY_KEY.TXT'],
    markers: [],
    encryption: 'AES-256, keys with ECDH (secp256k1)',
    decryptors: [
      { name: 'ESET TeslaCrypt decryptor (master key released May 2016)', url: 'https://www.welivesecurity.com/2016/05/18/eset-releases-decryptor-recent-variants-teslacrypt-ransomware/', prerequisites: ['all versions, with the released master key'] },
      { name: 'Kaspersky RakhniDecryptor', url: 'https://noransom.kaspersky.com/' },
    ],
    refs: ['https://en.wikipedia.org/wiki/TeslaCrypt', 'https://www.welivesecurity.com/2016/05/18/eset-releases-decryptor-recent-variants-teslacrypt-ransomware/'],
  },
  {
    id: 'locky', name: 'Locky', synonyms: ['Locky-Odin', 'Locky-Osiris'], galaxyNames: ['Locky'], matchGalaxySynonyms: false,
    extensions: [
      ...sfx('.locky', '.zepto', '.odin', '.shit', '.thor', '.aesir', '.zzzzz', '.osiris', '.diablo6', '.lukitus', '.asasin', '.ykcol'),
      { kind: 'regex', value: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.(?:zepto|odin|shit|thor|aesir|zzzzz|osiris|diablo6|lukitus|asasin|ykcol)$' },
    ],
    noteNames: ['_Locky_recover_instructions.txt', '_HELP_instructions.html', '*-INSTRUCTION.html', '_*_HOWDO_text.html', 'DesktopOSIRIS.htm', 'lukitus.htm', 'asasin.htm'],
    markers: [],
    encryption: 'AES-128 (CTR), keys protected with RSA-2048',
    decryptors: [],
    refs: ['https://en.wikipedia.org/wiki/Locky'],
  },
  {
    id: 'cerber', name: 'Cerber', synonyms: ['CRBR ENCRYPTOR'], galaxyNames: ['Cerber'], matchGalaxySynonyms: false,
    extensions: [...sfx('.cerber', '.cerber2', '.cerber3'), { kind: 'random', length: 4 }],
    noteNames: ['# DECRYPT MY FILES #.txt', '# DECRYPT MY FILES #.html', '# DECRYPT MY FILES #.vbs', '_HELP_DECRYPT_*.hta', '_HOW_TO_DECRYPT_*.hta', '_R_E_A_D___T_H_I_S___*_.txt', '_R_E_A_D___T_H_I_S___*_.hta'],
    markers: [],
    encryption: 'RC4 and RSA',
    decryptors: [
      { name: 'Trend Micro Ransomware File Decryptor', url: 'https://success.trendmicro.com/dcx/s/solution/1114221', prerequisites: ['Cerber version 1 only (unverified)', PAIR] },
    ],
    refs: ['https://www.trendmicro.com/vinfo/us/security/news/cybercrime-and-digital-threats/cerber-a-case-in-point-of-ransomware-as-a-service'],
  },
  {
    id: 'black-basta', name: 'Black Basta', synonyms: ['BlackBasta'], galaxyNames: ['BlackBasta'],
    extensions: sfx('.basta'),
    noteNames: ['readme.txt', 'instructions_read_me.txt'],
    markers: [],
    encryption: 'XChaCha20 per file, keys with ECC/RSA',
    decryptors: [
      { name: 'Black Basta Buster (SRLabs)', url: 'https://github.com/srlabs/black-basta-buster', prerequisites: ['files encrypted by builds from about November 2022 to December 2023 (the keystream-reuse bug was fixed then)', 'files of 5 KB to 1 GB (above 1 GB the first 5 KB are lost)', 'enough known plaintext: zero-filled blocks (virtual-disk images) or ' + PAIR] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa24-131a', 'https://github.com/srlabs/black-basta-buster'],
  },
  {
    id: 'akira', name: 'Akira', synonyms: ['Megazord'], galaxyNames: ['Akira'],
    extensions: sfx('.akira', '.powerranges', '.akiranew'),
    noteNames: ['akira_readme.txt', 'powerranges.txt', 'fn.txt'],
    markers: [],
    encryption: 'ChaCha20 (Windows) / KCipher2 and ChaCha8 (Linux/ESXi 2024), keys with RSA-4096',
    decryptors: [
      { name: 'Avast Akira decryptor (March 2023 Windows variant)', url: 'https://decoded.avast.io/threatresearch/decrypted-akira-ransomware/', prerequisites: ['the Windows variant first seen in March 2023 only (not later builds, not the 2017 "Akira")', PAIR, 'the original of the pair as large as possible: its size bounds the size of the files that can be decrypted', 'unverified: the tool page URL'] },
      { name: 'Akira Linux/ESXi GPU brute force (Yohanes Nugroho)', url: 'https://tinyhack.com/2025/03/13/decrypting-encrypted-files-from-akira-ransomware-linux-esxi-variant-2024-using-a-bunch-of-gpus/', prerequisites: ['the 2024 Linux/ESXi variant', MTIMES, 'GPU time: about 10 hours on 16 high-end GPUs per key set'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa24-109a', 'https://heise.de/-9204932'],
  },
  {
    id: 'alphv-blackcat', name: 'ALPHV/BlackCat', synonyms: ['ALPHV', 'BlackCat', 'Noberus'], galaxyNames: ['BlackCat'],
    extensions: [{ kind: 'random', length: 7 }],
    noteNames: ['RECOVER-*-FILES.txt', 'GET IT BACK-*-FILES.txt'],
    markers: [],
    encryption: 'ChaCha20 or AES per file, keys with RSA',
    decryptors: [
      { name: 'FBI decryption tool (December 2023; through the FBI, not public)', url: 'https://www.justice.gov/opa/pr/justice-department-disrupts-prolific-alphvblackcat-ransomware-variant', prerequisites: ['contact the FBI / your national police; unverified which victims'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-353a'],
  },
  {
    id: 'royal', name: 'Royal', synonyms: ['Royal Ransomware', 'BlackSuit'], galaxyNames: ['Royal'],
    extensions: sfx('.royal', '.royal_w', '.royal_u', '.blacksuit'),
    noteNames: ['README.TXT'],
    markers: [],
    encryption: 'AES-256-CTR per file (partial encryption of large files), keys with RSA-4096',
    decryptors: [],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-061a'],
  },
  {
    id: 'clop', name: 'Clop', synonyms: ['Cl0p'], galaxyNames: ['Clop'],
    extensions: sfx('.clop', '.ciop', '.cllp', '.ciip', '.c_l_o_p', '.clop2'),
    noteNames: ['ClopReadMe.txt', 'README_README.txt', '!_READ_ME.RTF', 'Cl0pReadMe.txt'],
    markers: [{ where: 'end', hex: hex('Clop^_-'), description: 'Clop footer marker before the encrypted key (unverified)' }],
    encryption: 'RC4 per file, keys with RSA-1024',
    decryptors: [],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-158a'],
  },
  {
    id: 'babuk', name: 'Babuk', synonyms: ['Babyk', 'Babuk Locker'], galaxyNames: ['Babuk Ransomsware', 'Babuk-Locker'],
    extensions: sfx('.babyk', '.babuk', '.__nist_k571__'),
    noteNames: ['How To Restore Your Files.txt', 'How To DECRYPT Files.txt'],
    markers: [],
    encryption: 'ChaCha8 / HC-128 per file, keys with Curve25519',
    decryptors: [
      { name: 'Avast Babuk decryptor (14 keys from the 2021 source leak; the Tortilla variant\'s key added in January 2024 with Cisco Talos)', url: 'https://www.avast.com/ransomware-decryption-tools', prerequisites: ['only victims encrypted with one of the leaked or seized keys', 'back up the encrypted files before running it'] },
    ],
    refs: ['https://incyber.org/en/article/decryptor-released-for-tortilla-variant-of-babuk-ransomware/', 'https://techtarget.com/searchsecurity/news/252508799/Avast-releases-decryptors-for-multiple-ransomware-strains'],
  },
  {
    id: 'rhysida', name: 'Rhysida', synonyms: [], galaxyNames: ['rhysida'],
    extensions: sfx('.rhysida'),
    noteNames: ['CriticalBreachDetected.pdf'],
    markers: [],
    encryption: 'ChaCha20 (LibTomCrypt) per file, keys with RSA-4096',
    decryptors: [
      { name: 'KISA Rhysida recovery tool (February 2024)', url: 'https://arxiv.org/abs/2402.06440', prerequisites: [MTIMES, 'the encryption order recoverable from the file modification times', 'unverified: the tool\'s distribution page (KISA)'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-319a', 'https://arxiv.org/abs/2402.06440'],
  },
  {
    id: 'hive', name: 'Hive', synonyms: [], galaxyNames: ['Hive'],
    extensions: sfx('.hive'),
    noteNames: ['HOW_TO_DECRYPT.txt'],
    markers: [],
    encryption: 'custom XOR keystream from two key tables, keys with RSA',
    decryptors: [
      { name: 'KISA Hive decryptor (versions 1 to 4, 2022)', url: NMR_TOOLS, prerequisites: ['versions 1 to 4 (unverified which builds)', 'the encrypted files untouched'] },
      { name: 'FBI keys (Hive takedown, January 2023; through the FBI)', url: 'https://www.justice.gov/opa/pr/us-department-justice-disrupts-hive-ransomware-variant', prerequisites: ['contact the FBI / your national police'] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa22-321a'],
  },
  {
    id: 'medusa', name: 'Medusa', synonyms: ['Medusa Ransomware'], galaxyNames: ['medusa'], matchGalaxySynonyms: false,
    extensions: sfx('.medusa'),
    noteNames: ['!!!READ_ME_MEDUSA!!!.txt'],
    markers: [],
    encryption: 'AES-256 per file, keys with RSA',
    decryptors: [],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa25-071a'],
  },
  {
    id: 'play', name: 'Play', synonyms: ['PlayCrypt', 'PLAY Ransomware'], galaxyNames: ['PLAY Ransomware', 'play'],
    extensions: sfx('.play'),
    noteNames: ['ReadMe.txt', 'PLAY_README.txt'],
    markers: [],
    encryption: 'AES per file (intermittent encryption), keys with RSA',
    decryptors: [],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-352a'],
  },
  {
    id: '8base', name: '8Base', synonyms: ['8base'], galaxyNames: ['8base'],
    extensions: [{ kind: 'template', value: '.id[[ID]-[RANDOM:4]].[[EMAIL]].8base' }, ...sfx('.8base')],
    noteNames: ['info.hta', 'info.txt'],
    markers: [],
    encryption: 'Phobos-based: AES-256-CBC, keys with RSA-1024',
    decryptors: [
      { name: 'Phobos/8Base decryptor (Japanese National Police Agency, via No More Ransom, 2025)', url: NMR_TOOLS, prerequisites: ['unverified which builds', NOTE] },
    ],
    refs: ['https://www.cisa.gov/news-events/cybersecurity-advisories/aa24-060a'],
  },
];
