/**
 * The office readers the engine opens layers with (see `../unpack.ts`): OLE2 compound files
 * (Office 97-2003 documents, MSI packages, `vbaProject.bin`), OOXML documents (read as the ZIP
 * files they are), RTF with embedded objects, HWP 3 and HWPML documents, HWP's embedded OLE2
 * files, and the `binData` of Word and Excel 2003 XML documents, and OneNote sections' attachments.
 */
import type { UnpackerFamily } from '../unpack.js';
import { hwpOle2Layers, ole2Layers } from './ole2.js';
import { ooxmlLayers } from './ooxml.js';
import { rtfLayers } from './rtf.js';
import { msxmlLayers } from './msxml.js';
import { oneNoteLayers } from './onenote.js';
import { hwp3Layers } from './hwp3.js';
import { hwpmlLayers } from './hwpml.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_MSOLE2: ole2Layers,
    CL_TYPE_HWPOLE2: hwpOle2Layers,
    CL_TYPE_HWP3: hwp3Layers,
    CL_TYPE_XML_HWP: hwpmlLayers,
    CL_TYPE_RTF: rtfLayers,
    CL_TYPE_OOXML_WORD: ooxmlLayers,
    CL_TYPE_OOXML_PPT: ooxmlLayers,
    CL_TYPE_OOXML_XL: ooxmlLayers,
    CL_TYPE_OOXML_HWP: ooxmlLayers,
    CL_TYPE_ONENOTE: oneNoteLayers,
  },
  // Found by the raw scan of a text layer (at offset 0 as a rule): ClamAV then reads the whole
  // layer as the XML document, whatever the offset.
  embedded: {
    CL_TYPE_XML_WORD: (bytes, _offset, ctx) => msxmlLayers(bytes, ctx),
    CL_TYPE_XML_XL: (bytes, _offset, ctx) => msxmlLayers(bytes, ctx),
  },
};
