import * as zlib from "node:zlib";

/**
 * A minimal reader for ordinary (non-zip64, unencrypted) zip archives, enough for pyodide's python_stdlib.zip.
 * It trusts the central directory (not the local headers) for sizes, so entries written with data descriptors
 * work too. Supports the two compression methods such archives use: stored (0) and deflate (8).
 */

export interface ZipEntry {
  /** Path inside the archive, "/"-separated; folders end with "/". */
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

/** Lists every entry of the archive, in central-directory order. */
export function listZipEntries(archive: Buffer): ZipEntry[] {
  const eocd = findEndOfCentralDirectory(archive);
  const entryCount = archive.readUInt16LE(eocd + 10);
  const directoryOffset = archive.readUInt32LE(eocd + 16);
  if (entryCount === 0xffff || directoryOffset === 0xffffffff) throw new Error("zip64 archives are not supported");

  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let i = 0; i < entryCount; i++) {
    if (archive.readUInt32LE(at) !== CENTRAL_DIRECTORY_HEADER) throw new Error(`zip: bad central directory header at byte ${at}`);
    const flags = archive.readUInt16LE(at + 8);
    if (flags & 1) throw new Error("zip: encrypted entries are not supported");
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    entries.push({
      name: archive.toString("utf8", at + 46, at + 46 + nameLength),
      method: archive.readUInt16LE(at + 10),
      crc32: archive.readUInt32LE(at + 16),
      compressedSize: archive.readUInt32LE(at + 20),
      size: archive.readUInt32LE(at + 24),
      localHeaderOffset: archive.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The uncompressed bytes of one entry, checked against the size and CRC-32 the directory records. */
export function readZipEntry(archive: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeaderOffset;
  if (archive.readUInt32LE(at) !== LOCAL_FILE_HEADER) throw new Error(`zip: bad local header for ${entry.name}`);
  const dataStart = at + 30 + archive.readUInt16LE(at + 26) + archive.readUInt16LE(at + 28);
  const compressed = archive.subarray(dataStart, dataStart + entry.compressedSize);

  let data: Buffer;
  if (entry.method === METHOD_STORED) data = Buffer.from(compressed);
  else if (entry.method === METHOD_DEFLATE) data = zlib.inflateRawSync(compressed);
  else throw new Error(`zip: ${entry.name} uses unsupported compression method ${entry.method}`);

  if (data.length !== entry.size) throw new Error(`zip: ${entry.name} inflated to ${data.length} bytes, expected ${entry.size}`);
  // zlib.crc32 exists from Node 20.15; older 20.x still get the size check above.
  if (typeof zlib.crc32 === "function" && zlib.crc32(data) >>> 0 !== entry.crc32) throw new Error(`zip: CRC mismatch in ${entry.name}`);
  return data;
}

function findEndOfCentralDirectory(archive: Buffer): number {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
  const earliest = Math.max(0, archive.length - 22 - 0xffff);
  for (let at = archive.length - 22; at >= earliest; at--) {
    if (archive.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  throw new Error("zip: end of central directory not found (not a zip archive?)");
}
