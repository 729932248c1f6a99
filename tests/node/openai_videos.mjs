// Every `client.videos` method of the official Node.js SDK against a gateway; prints one JSON
// object of what each call gave. BASE_URL, API_KEY and CHARACTER_MP4 come from the test.
import fs from "node:fs";
import OpenAI, { toFile } from "openai";

const client = new OpenAI({ baseURL: `${process.env.BASE_URL}/v1`, apiKey: process.env.API_KEY });
const small = { model: "wan2.6-t2v", seconds: "4", size: "832x480" };
const out = {};

async function finished(id) {
  for (let i = 0; i < 600; i++) {
    const video = await client.videos.retrieve(id);
    if (["completed", "failed", "cancelled"].includes(video.status)) return video;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`video ${id} did not finish`);
}

const source = await finished((await client.videos.create({ prompt: "a kite", ...small })).id);
out.create = source.status;
const remix = await client.videos.remix(source.id, { prompt: "a kite at night" });
out.remix = { from: remix.remixed_from_video_id === source.id, status: (await finished(remix.id)).status };
const extension = await client.videos.extend({ prompt: "it flies on", seconds: "4", video: { id: source.id } });
out.extend = (await finished(extension.id)).status;
const edit = await client.videos.edit({ prompt: "as a pencil sketch", video: { id: source.id } });
out.edit = (await finished(edit.id)).status;
const mp4 = await toFile(fs.readFileSync(process.env.CHARACTER_MP4), "mia.mp4", { type: "video/mp4" });
const character = await client.videos.createCharacter({ name: "Mia", video: mp4 });
out.character = (await client.videos.getCharacter(character.id)).name;
out.list = (await client.videos.list({ limit: 20 })).data.map((video) => video.id);
const content = await client.videos.downloadContent(source.id);
out.content = Buffer.from(await content.arrayBuffer()).subarray(4, 8).toString("latin1");
out.deleted = (await client.videos.delete(source.id)).deleted;
try {
  await client.videos.retrieve(source.id);
  out.after_delete = "found";
} catch (error) {
  out.after_delete = { status: error.status, type: error.type };
}
out.ids = { source: source.id, remix: remix.id, extend: extension.id, edit: edit.id };
console.log(JSON.stringify(out));
