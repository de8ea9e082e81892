// Each marked line must NOT compile: an unused `@ts-expect-error` is itself an error, so these
// lines fail the build if the package's types ever degrade to `any` or lose their unions.
import { createKeeper, KeeperError } from "sessionkeeper";

const keeper = createKeeper({ laravelApiUrl: "http://127.0.0.1:9" });

// @ts-expect-error laravelApiUrl is required
createKeeper({ syncSpacing: 400 });
// @ts-expect-error `connection` is one of Baileys' three words
keeper.connectionUpdate("u1", { connection: "opened" });
// @ts-expect-error the core emits no such command
keeper.on("command", (e) => e.type === "restart");
// @ts-expect-error error codes are a closed union
export const code: KeeperError["code"] = "NoSuchCode";
// @ts-expect-error ensureSession answers a boolean
export const added: string = keeper.ensureSession("u1");
// @ts-expect-error config().seed is a decimal string (it does not fit a number)
export const seed: number = keeper.config().seed;
