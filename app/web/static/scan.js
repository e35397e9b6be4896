// Reads a QR code with the camera for pairing: what the camera sees plays in the
// page's <video>, and each frame is read with the browser's BarcodeDetector where it
// has one for QR codes (Chrome on Android), else with the app's own reader (wasm).

/** The element of id `id` once it is in the page (the screen has just asked for it). */
async function appear(id) {
  for (let i = 0; i < 50; i++) {
    const element = document.getElementById(id);
    if (element) return element;
    await new Promise((r) => requestAnimationFrame(r));
  }
  return null;
}

async function barcodeDetector() {
  if (!('BarcodeDetector' in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code') ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

/** The text of a code in the video's current frame, or null. */
async function readFrame(video, detector, canvas, context, readQr) {
  if (detector) {
    const codes = await detector.detect(video).catch(() => []);
    return codes.length ? codes[0].rawValue : null;
  }
  // At most 800 pixels a side: enough for a phone's screen held up to it, and quick.
  const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const frame = context.getImageData(0, 0, canvas.width, canvas.height);
  return readQr(frame.width, frame.height, new Uint8Array(frame.data.buffer)) ?? null;
}

/**
 * Plays the camera in the <video id=videoId> and resolves with the first QR code's
 * text; with null once that element leaves the page (cancelled); rejects when there
 * is no camera or it is refused. The camera is released either way.
 */
export async function scanCode(videoId, readQr) {
  const video = await appear(videoId);
  if (!video) return null;
  video.scrollIntoView({ block: 'center', behavior: 'smooth' });
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('this browser gives the page no camera');
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: 'environment' } },
    audio: false,
  });
  try {
    if (!video.isConnected) return null;
    video.muted = true;
    video.setAttribute('playsinline', '');
    video.srcObject = stream;
    await video.play().catch(() => {});
    const detector = await barcodeDetector();
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });
    while (video.isConnected) {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        const text = await readFrame(video, detector, canvas, context, readQr);
        if (text) return text;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    return null;
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}
