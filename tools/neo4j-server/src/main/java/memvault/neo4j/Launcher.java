package memvault.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs a real Neo4j 5.26 Community DBMS (Bolt + HTTP, auth on) for memvault, from Maven jars.
 *
 * <p>Why the embedded {@link DatabaseManagementServiceBuilder} and not
 * {@code org.neo4j.server.CommunityEntryPoint}: both start the same DBMS (same community edition
 * module, Bolt server and Jetty HTTP server; the embedded builder starts the web server whenever
 * the HTTP connector is enabled and neo4j-server is on the classpath). The embedded way lets this
 * one process also set the {@code neo4j} user's password right after start, in-process through
 * the system database, so there is no second tool run ({@code neo4j-admin dbms
 * set-initial-password}), no password on any command line (it is read from the environment),
 * no neo4j.conf file to template, and typed settings that fail at compile time if a name moves.
 * The cost is that this class, not Neo4j's bootstrapper, owns the shutdown hook and the wait.
 *
 * <p>Configuration comes from the environment (the {@code neo4j-server} script sets defaults):
 * NEO4J_LISTEN_HOST, NEO4J_BOLT_PORT, NEO4J_HTTP_PORT, NEO4J_DATA_DIR, NEO4J_RUN_DIR,
 * NEO4J_PASSWORD, NEO4J_PAGECACHE. Heap is a JVM flag (-Xmx) given by the script.
 *
 * <p>Once the DBMS is up and the password applied, it writes {@code <run>/neo4j.ready} holding its
 * pid; the script waits for that file as well as for the Bolt and HTTP ports.
 */
public final class Launcher {
  private static final String USER = "neo4j";

  private Launcher() {}

  public static void main(String[] args) throws Exception {
    String host = env("NEO4J_LISTEN_HOST", "127.0.0.1");
    int boltPort = Integer.parseInt(env("NEO4J_BOLT_PORT", "7687"));
    int httpPort = Integer.parseInt(env("NEO4J_HTTP_PORT", "7474"));
    Path dataDir = Path.of(env("NEO4J_DATA_DIR", "data")).toAbsolutePath().normalize();
    Path runDir = Path.of(env("NEO4J_RUN_DIR", "run")).toAbsolutePath().normalize();
    long pageCache = ByteUnit.parse(env("NEO4J_PAGECACHE", "256m"));
    String password = System.getenv("NEO4J_PASSWORD");
    if (password == null || password.isEmpty()) {
      password = "memvault-dev-password";
    }
    if (password.length() < 8) {
      fail("NEO4J_PASSWORD must be at least 8 characters (Neo4j's minimum)");
    }

    Files.createDirectories(dataDir);
    Files.createDirectories(runDir);
    Path readyFile = runDir.resolve("neo4j.ready");
    Files.deleteIfExists(readyFile);

    log(
        "starting Neo4j: bolt %s:%d, http %s:%d, data %s, page cache %d MiB, max heap %d MiB",
        host, boltPort, host, httpPort, dataDir, pageCache >> 20,
        Runtime.getRuntime().maxMemory() >> 20);

    Log4jLogProvider userLog = new Log4jLogProvider(System.out, Level.INFO);
    AtomicReference<DatabaseManagementService> started = new AtomicReference<>();
    CountDownLatch stopped = new CountDownLatch(1);
    // Registered before the DBMS starts, so a SIGTERM during startup also shuts down cleanly.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log("shutdown requested: stopping Neo4j cleanly");
                  try {
                    Files.deleteIfExists(readyFile);
                  } catch (IOException ignored) {
                    // the script checks the pid too
                  }
                  DatabaseManagementService dbms = started.get();
                  try {
                    if (dbms != null) {
                      dbms.shutdown();
                      log("Neo4j stopped");
                    }
                  } catch (RuntimeException e) {
                    log("error during shutdown: %s", e);
                  } finally {
                    userLog.close();
                    stopped.countDown();
                  }
                },
                "memvault-neo4j-shutdown"));

    try {
      DatabaseManagementService dbms =
          new DatabaseManagementServiceBuilder(runDir)
              .setUserLogProvider(userLog)
              .setConfig(
                  Map.of(
                      // Home is the run folder (logs, certificates, ...); the stores and the
                      // transaction logs live in the data folder, all that must persist.
                      GraphDatabaseSettings.data_directory, dataDir,
                      GraphDatabaseSettings.logs_directory, runDir.resolve("logs"),
                      GraphDatabaseSettings.default_listen_address, new SocketAddress(host),
                      GraphDatabaseSettings.default_advertised_address, new SocketAddress(host),
                      GraphDatabaseSettings.auth_enabled, true,
                      GraphDatabaseSettings.pagecache_memory, pageCache,
                      GraphDatabaseSettings.preallocate_logical_logs, false,
                      // No usage-data reports: this machine only talks to loopback.
                      GraphDatabaseSettings.udc_enabled, false))
              .setConfig(BoltConnector.enabled, true)
              .setConfig(BoltConnector.listen_address, new SocketAddress(host, boltPort))
              .setConfig(BoltConnector.advertised_address, new SocketAddress(host, boltPort))
              .setConfig(
                  BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
              .setConfig(HttpConnector.enabled, true)
              .setConfig(HttpConnector.listen_address, new SocketAddress(host, httpPort))
              .setConfig(HttpConnector.advertised_address, new SocketAddress(host, httpPort))
              // Bolt's Netty event loops wait a 5 s quiet period each on shutdown (10 s in
              // all); the stores are checkpointed before that, so 1 s is plenty here.
              .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 1)
              .build();
      started.set(dbms);

      applyPassword(dbms, password);
      // Open the default database and warm up Cypher before reporting ready.
      try (Transaction tx = dbms.database("neo4j").beginTx()) {
        tx.execute("RETURN 1").close();
        tx.commit();
      }
    } catch (Throwable e) {
      log("startup failed: %s", e);
      e.printStackTrace(System.out);
      System.exit(1); // runs the shutdown hook, which stops whatever did start
    }

    Path tmp = runDir.resolve("neo4j.ready.tmp");
    Files.writeString(tmp, ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, readyFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    log("ready: bolt://%s:%d http://%s:%d", host, boltPort, host, httpPort);
    stopped.await();
  }

  /**
   * Makes the password of user neo4j the given one, with no change required. Runs on every start,
   * so that a changed NEO4J_PASSWORD applies too. The password is only ever a query parameter.
   */
  private static void applyPassword(DatabaseManagementService dbms, String password) {
    GraphDatabaseService system = dbms.database("system");
    boolean exists;
    try (Transaction tx = system.beginTx()) {
      try (Result r =
          tx.execute("SHOW USERS YIELD user WHERE user = $u RETURN user", Map.of("u", USER))) {
        exists = r.hasNext();
      }
      tx.commit();
    }
    String query =
        exists
            ? "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED"
            : "CREATE USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED";
    try (Transaction tx = system.beginTx()) {
      tx.execute(query, Map.of("pw", password)).close();
      tx.commit();
      log(exists ? "password of user neo4j set from NEO4J_PASSWORD" : "user neo4j created");
    } catch (RuntimeException e) {
      if (isSamePassword(e)) {
        // Already the password (this launcher never sets CHANGE REQUIRED, so nothing to do).
        log("password of user neo4j already matches NEO4J_PASSWORD");
        return;
      }
      throw e;
    }
  }

  private static boolean isSamePassword(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage()).toLowerCase();
      if (m.contains("old password and new password cannot be the same")) {
        return true;
      }
    }
    return false;
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v.trim();
  }

  private static void log(String fmt, Object... args) {
    System.out.println(
        java.time.Instant.now() + " [memvault-launcher] " + String.format(fmt, args));
    System.out.flush();
  }

  private static void fail(String message) {
    log("error: %s", message);
    System.exit(2);
  }
}
