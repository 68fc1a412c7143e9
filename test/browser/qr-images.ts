/** QR codes for the browser tests: a PNG to upload, and a Y4M video for Chromium's fake camera. */
import QRCode from 'qrcode';

export function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 });
}

/**
 * A still YUV4MPEG2 video (4:2:0) of the code, black on white, for
 * `--use-file-for-fake-video-capture`: the luma plane is the code, chroma is neutral grey.
 */
export function qrY4m(text: string, size = 480, frames = 10): Buffer {
  const modules = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const quiet = 4;
  const cells = modules.size + 2 * quiet;
  const cell = Math.floor(size / cells);
  const offset = Math.floor((size - cell * cells) / 2);
  const luma = Buffer.alloc(size * size, 235);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const mx = Math.floor((x - offset) / cell) - quiet;
      const my = Math.floor((y - offset) / cell) - quiet;
      if (mx >= 0 && my >= 0 && mx < modules.size && my < modules.size && modules.get(my, mx)) luma[y * size + x] = 16;
    }
  }
  const chroma = Buffer.alloc((size / 2) * (size / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${size} H${size} F10:1 Ip A1:1 C420jpeg\n`), ...Array.from({ length: frames }, () => frame)]);
}
