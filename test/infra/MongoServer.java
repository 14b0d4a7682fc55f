import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a MongoDB wire-protocol server for tests: mongo-java-server with its in-memory backend
 * and the oplog enabled, so that {@code $changeStream} aggregations work.
 *
 * <p>Usage: {@code java -cp '<mongo-java-server jars>/*' MongoServer.java <port>}, where port 0
 * picks a free port. Once bound, the server prints {@code listening 127.0.0.1:<port>} on
 * standard output. It stops on SIGTERM, and also when its standard input reaches end of file,
 * so a launcher that dies without stopping it does not leave it running.
 *
 * <p>Unlike MongoDB, mongo-java-server 1.47 replies to a getMore on a change stream at once,
 * even when no event is there. The Node.js driver 6.22 then sends the next getMore immediately: one
 * idle {@code watch()} measured about 5,500 getMore commands per second and 80% of a CPU core in
 * Node.js alone, on a 2-core machine. {@link AwaitDataBackend} holds such replies back for a
 * short time, as MongoDB does for awaitData cursors.
 */
public final class MongoServer {
  private static final String HOST = "127.0.0.1";
  // A getMore that waits blocks its Netty event loop thread, and with it every connection that
  // shares the thread. Netty hands out threads to connections in turn, so up to this many
  // connections each get a thread of their own.
  private static final int WORKER_THREADS = 32;

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: java -cp '<jars>/*' MongoServer.java <port> (0 picks a free port)");
      System.exit(2);
    }
    int port;
    try {
      port = Integer.parseInt(args[0]);
    } catch (NumberFormatException e) {
      System.err.println("invalid port '" + args[0] + "': expected an integer from 0 to 65535");
      System.exit(2);
      return;
    }

    // The Node.js driver 6.22 rejects servers whose maximum wire version is below 8 (MongoDB
    // 4.2). MONGO_5_0, the default of mongo-java-server 1.47, reports 8. Naming it here keeps
    // that true if a later default changes.
    MemoryBackend backend = new AwaitDataBackend();
    backend.version(ServerVersion.MONGO_5_0);
    de.bwaldvogel.mongo.MongoServer server = new de.bwaldvogel.mongo.MongoServer(backend);
    server.enableOplog();
    server.bind(new InetSocketAddress(HOST, port), 1, WORKER_THREADS);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-server-shutdown"));

    InetSocketAddress address = server.getLocalAddress();
    System.out.println("listening " + HOST + ":" + address.getPort());
    System.out.flush();

    waitForEndOfInput(System.in);
    System.exit(0);
  }

  private static void waitForEndOfInput(InputStream input) {
    byte[] buffer = new byte[256];
    try {
      while (input.read(buffer) >= 0) {
        // Input is ignored, since only its end matters.
      }
    } catch (IOException e) {
      System.err.println("reading standard input failed, stopping: " + e);
    }
  }

  /**
   * Memory backend whose getMore waits for data on tailable cursors. A getMore reply with an
   * empty batch and an open cursor can only come from a tailable cursor, since other cursors
   * close when they run out. Such a getMore is retried until a batch has data or the wait time
   * has passed: the command's maxTimeMS, capped at {@link #MAX_AWAIT_MS}.
   */
  static final class AwaitDataBackend extends MemoryBackend {
    // MongoDB waits 1 s by default. A shorter cap bounds how long connections that share an
    // event loop thread with a waiting getMore are delayed.
    private static final long MAX_AWAIT_MS = 100;
    private static final long POLL_INTERVAL_MS = 5;

    @Override
    protected Document handleGetMore(String databaseName, String command, Document query) {
      Document reply = super.handleGetMore(databaseName, command, query);
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(awaitMillis(query));
      while (isEmptyOpenBatch(reply) && System.nanoTime() < deadline) {
        try {
          Thread.sleep(POLL_INTERVAL_MS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return reply;
        }
        reply = super.handleGetMore(databaseName, command, query);
      }
      return reply;
    }

    private static long awaitMillis(Document query) {
      if (query.get("maxTimeMS") instanceof Number maxTimeMs) {
        return Math.min(maxTimeMs.longValue(), MAX_AWAIT_MS);
      }
      return MAX_AWAIT_MS;
    }

    private static boolean isEmptyOpenBatch(Document reply) {
      if (!(reply.get("cursor") instanceof Document cursor)) {
        return false;
      }
      boolean open = cursor.get("id") instanceof Number id && id.longValue() != 0;
      return open && cursor.get("nextBatch") instanceof List<?> batch && batch.isEmpty();
    }
  }
}
